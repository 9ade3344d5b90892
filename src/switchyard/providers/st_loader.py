"""The one place that loads a sentence-transformers model from a local directory: offline, quiet, on
CPU. Used by the local-embed provider, the router's features and RAG (dense index, tuning)."""

from __future__ import annotations

import os
from typing import Any


def load_sentence_transformer(path: str) -> Any:
    """Load ``path`` (blocking: importing sentence-transformers alone takes seconds)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # The environment variables above are read at import time; these work whatever was imported first.
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    return SentenceTransformer(path, device="cpu")
