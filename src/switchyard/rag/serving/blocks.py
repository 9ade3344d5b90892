"""Documents -> structural blocks (heading path, kind, text): Markdown through markdown-it-py, HTML
through BeautifulSoup, plain text by paragraphs. Chunking packs these blocks; it never cuts inside one
unless the block alone is too large."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

BlockKind = str  # paragraph | list | code | table | quote | heading


@dataclass
class Block:
    kind: BlockKind
    text: str
    heading: str  # "Title > Section > Subsection" in force where the block sits


_BLANK = re.compile(r"\n\s*\n")
_MD_KINDS = {
    "paragraph_open": "paragraph",
    "bullet_list_open": "list",
    "ordered_list_open": "list",
    "fence": "code",
    "code_block": "code",
    "table_open": "table",
    "blockquote_open": "quote",
    "html_block": "paragraph",
}


def _path(stack: list[tuple[int, str]]) -> str:
    return " > ".join(title for _, title in stack)


def _push(stack: list[tuple[int, str]], level: int, title: str) -> None:
    while stack and stack[-1][0] >= level:
        stack.pop()
    stack.append((level, title))


def markdown_blocks(text: str) -> list[Block]:
    from markdown_it import MarkdownIt

    lines = text.splitlines()
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    stack: list[tuple[int, str]] = []
    out: list[Block] = []
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.map is None:
            continue
        source = "\n".join(lines[tok.map[0] : tok.map[1]]).strip()
        if tok.type == "heading_open":
            title = tokens[i + 1].content.strip() if i + 1 < len(tokens) else source.lstrip("#").strip()
            _push(stack, int(tok.tag[1:]), title)
            out.append(Block("heading", source, _path(stack)))
        elif tok.type in _MD_KINDS and source:
            out.append(Block(_MD_KINDS[tok.type], source, _path(stack)))
        elif tok.type == "hr":
            continue
    return out


def text_blocks(text: str) -> list[Block]:
    return [Block("paragraph", p.strip(), "") for p in _BLANK.split(text) if p.strip()]


_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_CONTAINERS = {"html", "body", "div", "section", "article", "main", "header", "footer", "aside", "nav", "figure"}
_SKIP = {"script", "style", "noscript", "template", "head"}


def html_blocks(text: str) -> list[Block]:
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, Tag

    soup = BeautifulSoup(text, "html.parser")
    stack: list[tuple[int, str]] = []
    out: list[Block] = []

    def words(node: Any) -> str:
        return " ".join(node.get_text(" ").split())

    def emit(kind: str, body: str) -> None:
        if body.strip():
            out.append(Block(kind, body.strip(), _path(stack)))

    def walk(node: Any) -> None:
        loose: list[str] = []
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString and child.strip():
                    loose.append(" ".join(child.split()))
                continue
            if not isinstance(child, Tag) or child.name in _SKIP:
                continue
            name = child.name
            if name in _CONTAINERS or (name not in _BLOCK_RENDER and name not in _HEADINGS and _has_block(child)):
                emit("paragraph", " ".join(loose))
                loose = []
                walk(child)
            elif name in _HEADINGS:
                emit("paragraph", " ".join(loose))
                loose = []
                _push(stack, int(name[1]), words(child))
                emit("heading", words(child))
            elif name in _BLOCK_RENDER:
                emit("paragraph", " ".join(loose))
                loose = []
                kind, render = _BLOCK_RENDER[name]
                emit(kind, render(child))
            else:
                loose.append(words(child))
        emit("paragraph", " ".join(loose))

    def _has_block(tag: Any) -> bool:
        return any(isinstance(c, Tag) and (c.name in _BLOCK_RENDER or c.name in _HEADINGS) for c in tag.descendants)

    walk(soup)
    return out


def _list(tag: Any) -> str:
    items = tag.find_all("li")
    return "\n".join(f"- {' '.join(li.get_text(' ').split())}" for li in items)


def _table(tag: Any) -> str:
    rows = []
    for tr in tag.find_all("tr"):
        cells = [" ".join(c.get_text(" ").split()) for c in tr.find_all(["td", "th"])]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _pre(tag: Any) -> str:
    return str(tag.get_text())


def _para(tag: Any) -> str:
    return " ".join(tag.get_text(" ").split())


_BLOCK_RENDER: dict[str, tuple[str, Callable[[Any], str]]] = {
    "p": ("paragraph", _para),
    "ul": ("list", _list),
    "ol": ("list", _list),
    "dl": ("list", _para),
    "pre": ("code", _pre),
    "table": ("table", _table),
    "blockquote": ("quote", _para),
}

PARSERS: dict[str, Callable[[str], list[Block]]] = {
    "md": markdown_blocks,
    "markdown": markdown_blocks,
    "html": html_blocks,
    "htm": html_blocks,
    "txt": text_blocks,
    "text": text_blocks,
}


def iter_pieces(block: Block) -> Iterator[str]:
    """Smaller natural pieces of an over-long block: lines for code, tables and lists; sentences else."""
    if block.kind in ("code", "table", "list"):
        yield from (line for line in block.text.splitlines() if line.strip())
    else:
        yield from (s for s in re.split(r"(?<=[.!?])\s+", block.text) if s.strip())
