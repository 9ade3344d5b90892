"""Files -> Documents: txt, md, html read as text; pdf through pypdf (text per page). A registry keyed by
suffix; the document id is the path relative to the ingested folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ...errors import InvalidRequest
from ..types import Document


def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, OSError) as exc:
        raise InvalidRequest(f"{path.name}: cannot read the PDF ({exc})", param="file") from exc


# suffix -> (reader, chunking format)
READERS: dict[str, tuple[Callable[[Path], str], str]] = {
    ".txt": (_read_text, "txt"),
    ".text": (_read_text, "txt"),
    ".md": (_read_text, "md"),
    ".markdown": (_read_text, "md"),
    ".html": (_read_text, "html"),
    ".htm": (_read_text, "html"),
    ".pdf": (_read_pdf, "txt"),
}


def read_document(path: Path, doc_id: str | None = None, subject: str | None = None) -> Document:
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise InvalidRequest(f"{path.name}: unsupported file type; use one of {sorted(READERS)}", param="file")
    read, fmt = reader
    return Document(
        id=doc_id or path.name,
        text=read(path),
        title=path.stem,
        subject=subject,
        metadata={"source": str(path)},
        format=fmt,
    )


def iter_files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in READERS:
            yield path


def documents_from(root: Path, subject: str | None = None) -> Iterator[Document]:
    base = root if root.is_dir() else root.parent
    for path in iter_files(root):
        yield read_document(path, str(path.relative_to(base)), subject)
