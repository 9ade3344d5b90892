"""BEIR-layout collections: ``corpus.jsonl`` ({_id, title, text}), ``queries.jsonl`` ({_id, text}) and a
qrels TSV (``query-id corpus-id score`` with a header). Queries absent from the qrels are ignored.
``half(query_id)`` splits queries in two fixed halves by hash: tune on "a", report "b"."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from ...errors import InvalidRequest
from ..types import Document

Qrels = dict[str, dict[str, int]]


def _jsonl(path: Path) -> Iterator[dict[str, object]]:
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file", param=str(path))
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InvalidRequest(f"{path}:{n}: not JSON ({exc.msg})", param=str(path)) from None


def read_corpus(path: Path) -> list[Document]:
    return [
        Document(id=str(r["_id"]), text=str(r.get("text") or ""), title=str(r.get("title") or "")) for r in _jsonl(path)
    ]


def read_queries(path: Path) -> dict[str, str]:
    return {str(r["_id"]): str(r["text"]) for r in _jsonl(path)}


def read_qrels(path: Path) -> Qrels:
    if not path.is_file():
        raise InvalidRequest(f"{path}: no such file", param=str(path))
    out: Qrels = {}
    with path.open(encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            try:
                score = int(row[2])
            except ValueError:
                continue
            if score > 0:
                out.setdefault(row[0], {})[row[1]] = score
    return out


def half(query_id: str) -> str:
    return "a" if int(hashlib.sha256(query_id.encode()).hexdigest()[:8], 16) % 2 == 0 else "b"
