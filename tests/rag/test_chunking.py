from __future__ import annotations

import itertools

import pytest

from switchyard.errors import InvalidRequest
from switchyard.rag.serving.blocks import html_blocks, markdown_blocks
from switchyard.rag.serving.chunking import ChunkOptions, chunk_document
from switchyard.rag.serving.tokenize import HFTokenizer
from switchyard.rag.types import Document

MD = """# Guide

Intro paragraph about the ward.

## Dosage

- first item
- second item

```python
def f():
    return 1
```

| drug | mg |
|------|----|
| a    | 5  |

## Follow-up

Closing words.
"""


def test_markdown_blocks_follow_structure() -> None:
    blocks = markdown_blocks(MD)
    kinds = [b.kind for b in blocks]
    assert kinds == ["heading", "paragraph", "heading", "list", "code", "table", "heading", "paragraph"]
    assert blocks[3].heading == "Guide > Dosage"
    assert "def f()" in blocks[4].text
    assert blocks[-1].heading == "Guide > Follow-up"


def test_html_blocks_follow_structure() -> None:
    html = """<html><head><style>p{}</style></head><body><h1>Title</h1><p>First <b>bold</b> para.</p>
    <div><h2>Part</h2><ul><li>one</li><li>two</li></ul><table><tr><th>a</th><th>b</th></tr>
    <tr><td>1</td><td>2</td></tr></table><pre>x = 1\ny = 2</pre></div><script>evil()</script></body></html>"""
    blocks = html_blocks(html)
    kinds = [b.kind for b in blocks]
    assert kinds == ["heading", "paragraph", "heading", "list", "table", "code"]
    assert blocks[1].text == "First bold para."
    assert blocks[3].text == "- one\n- two" and blocks[3].heading == "Title > Part"
    assert blocks[4].text.splitlines()[1] == "| 1 | 2 |"
    assert not any("evil" in b.text for b in blocks)


def test_small_document_is_one_chunk(tokenizer: HFTokenizer) -> None:
    chunks = chunk_document(Document("d", MD, format="md"), tokenizer)
    assert len(chunks) == 1
    assert chunks[0].id == "d#0" and chunks[0].tokens == tokenizer.count(chunks[0].text)


def test_long_document_respects_size_and_overlap(tokenizer: HFTokenizer) -> None:
    paras = [f"Paragraph {i} talks about topic {i} with several plain words in it. " * 6 for i in range(40)]
    doc = Document("long", "\n\n".join(paras))
    opts = ChunkOptions(max_tokens=128, overlap=0.125)
    chunks = chunk_document(doc, tokenizer, opts)
    assert len(chunks) > 5
    assert all(c.tokens <= 128 for c in chunks)
    for prev, cur in itertools.pairwise(chunks):
        carried = cur.text.split("\n\n")[0]
        assert prev.text.endswith(carried)  # the overlap is the tail of the previous chunk
        assert 8 <= tokenizer.count(carried) <= 16
    # no paragraph is lost
    joined = " ".join(c.text for c in chunks)
    assert all(f"Paragraph {i} " in joined for i in range(40))


def test_oversized_block_is_cut_at_sentences_then_tokens(tokenizer: HFTokenizer) -> None:
    text = "word " * 1000  # one block, no sentence ends
    chunks = chunk_document(Document("x", text), tokenizer, ChunkOptions(max_tokens=64, overlap=0.1))
    assert all(c.tokens <= 64 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) >= 1000


def test_bad_options_and_format_name_the_field() -> None:
    with pytest.raises(InvalidRequest) as err:
        ChunkOptions(max_tokens=4)
    assert err.value.param == "max_tokens"
    with pytest.raises(InvalidRequest) as err:
        chunk_document(Document("x", "t", format="docx"), HFTokenizer())
    assert err.value.param == "format"
