from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.errors import InvalidRequest
from switchyard.rag.serving.loaders import documents_from, read_document


def _pdf(text: str) -> bytes:
    """A one-page PDF with ``text`` in Helvetica, with a correct cross-reference table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def test_reads_each_format_with_its_chunking_format(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("# T\n\nbody")
    (tmp_path / "b.html").write_text("<p>hi</p>")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.pdf").write_bytes(_pdf("Discharge summary for ward three"))
    (tmp_path / "skip.bin").write_bytes(b"\x00")
    docs = {d.id: d for d in documents_from(tmp_path, subject="s1")}
    assert set(docs) == {"a.md", "b.html", "sub/c.pdf"}
    assert docs["a.md"].format == "md" and docs["b.html"].format == "html" and docs["sub/c.pdf"].format == "txt"
    assert "Discharge summary for ward three" in docs["sub/c.pdf"].text
    assert all(d.subject == "s1" for d in docs.values())


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 nonsense")
    with pytest.raises(InvalidRequest, match=r"broken\.pdf"):
        read_document(bad)
    with pytest.raises(InvalidRequest, match="unsupported"):
        read_document(tmp_path / "x.docx")
