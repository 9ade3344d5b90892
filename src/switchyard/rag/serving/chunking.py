"""Structure-aware chunking: blocks (headings, paragraphs, lists, code, tables) are packed into chunks of
at most ``max_tokens`` tokens, counted with a real tokenizer; a block is cut only when it alone is too
large (at lines or sentences, then at token boundaries). Each chunk after the first starts with the last
``overlap`` share of the previous chunk's tokens, and carries the heading path it sits under."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidRequest
from ..types import Chunk, Document
from .blocks import PARSERS, Block, iter_pieces
from .tokenize import Tokenizer


@dataclass(frozen=True)
class ChunkOptions:
    max_tokens: int = 512
    overlap: float = 0.12  # share of max_tokens repeated from the previous chunk

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise InvalidRequest("chunk max_tokens must be at least 16", param="max_tokens")
        if not 0 <= self.overlap < 0.5:
            raise InvalidRequest("chunk overlap must be in [0, 0.5)", param="overlap")

    @property
    def overlap_tokens(self) -> int:
        return int(self.max_tokens * self.overlap)


def parse_blocks(doc: Document) -> list[Block]:
    parser = PARSERS.get(doc.format.lower())
    if parser is None:
        raise InvalidRequest(f"unknown document format {doc.format!r}; use one of {sorted(PARSERS)}", param="format")
    return parser(doc.text)


def _hard_split(text: str, tok: Tokenizer, limit: int) -> list[str]:
    offsets = tok.offsets(text)
    out = []
    for start in range(0, len(offsets), limit):
        span = offsets[start : start + limit]
        end = offsets[start + limit][0] if start + limit < len(offsets) else len(text)
        out.append(text[span[0][0] : end].strip())
    return [p for p in out if p]


def _tail(text: str, tok: Tokenizer, n: int) -> str:
    """The last ``n`` tokens of ``text``, starting at a word boundary."""
    if n <= 0:
        return ""
    offsets = tok.offsets(text)
    if len(offsets) <= n:
        return text
    start = offsets[-n][0]
    space = text.rfind(" ", 0, start)
    if space >= 0 and start - space < 24:
        start = space + 1
    return text[start:].strip()


def _units(blocks: list[Block], tok: Tokenizer, limit: int) -> list[tuple[str, str, int]]:
    """(heading, text, tokens) units none larger than ``limit``."""
    out: list[tuple[str, str, int]] = []
    for block, n in zip(blocks, tok.counts([b.text for b in blocks]), strict=True):
        if n <= limit:
            out.append((block.heading, block.text, n))
            continue
        for piece in iter_pieces(block):
            m = tok.count(piece)
            if m <= limit:
                out.append((block.heading, piece, m))
            else:
                out.extend((block.heading, p, tok.count(p)) for p in _hard_split(piece, tok, limit))
    return out


def chunk_document(doc: Document, tok: Tokenizer, options: ChunkOptions | None = None) -> list[Chunk]:
    opts = options or ChunkOptions()
    budget = opts.max_tokens - opts.overlap_tokens
    units = _units(parse_blocks(doc), tok, budget)
    chunks: list[Chunk] = []
    parts: list[str] = []
    size = 0
    heading = ""

    def flush() -> None:
        nonlocal parts, size
        if not parts:
            return
        body = "\n\n".join(parts)
        carry = _tail(chunks[-1].text, tok, opts.overlap_tokens) if chunks and opts.overlap_tokens else ""
        body = f"{carry}\n\n{body}" if carry else body
        # one unit alone keeps its count; joined texts are counted again (a join can merge tokens)
        tokens = size if len(parts) == 1 and not carry else tok.count(body)
        ordinal = len(chunks)
        chunks.append(Chunk(f"{doc.id}#{ordinal}", doc.id, ordinal, body, tokens, heading))
        parts, size = [], 0

    for unit_heading, text, n in units:
        if parts and size + n > budget:
            flush()
        if not parts:
            heading = unit_heading
        parts.append(text)
        size += n
    flush()
    return chunks
