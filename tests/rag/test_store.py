from __future__ import annotations

import numpy as np
import pytest

from switchyard.errors import Conflict
from switchyard.rag.stores.base import NewDocument, RagStore
from switchyard.rag.stores.sqlite import fts_query
from switchyard.rag.types import Acl, Chunk, Collection


@pytest.fixture
def store(any_store: RagStore) -> RagStore:
    """Every contract test runs against each store: the embedded SQLite file and PostgreSQL."""
    return any_store


def _doc(doc_id: str, text: str, subject: str | None = None) -> NewDocument:
    chunk = Chunk(f"{doc_id}#0", doc_id, 0, text, len(text.split()))
    vec = np.ones((1, 4), dtype=np.float32) / 2
    return NewDocument(doc_id, "T", subject, {"k": 1}, "h-" + text, text, [chunk], vec)


def test_collections_round_trip(store: RagStore) -> None:
    store.create_collection(Collection("c", "confidential", Acl(read=["a"], write=["a"], admin=["a"]), "m"))
    with pytest.raises(Conflict):
        store.create_collection(Collection("c"))
    got = store.get_collection("c")
    assert got is not None and got.sensitivity == "confidential" and got.acl.read == ["a"]
    store.set_acl("c", Acl(read=["a", "b"]))
    assert store.get_collection("c").acl.read == ["a", "b"]  # type: ignore[union-attr]
    assert [c.name for c in store.list_collections()] == ["c"]
    assert store.delete_collection("c") and store.get_collection("c") is None


def test_put_replaces_and_bumps_version(store: RagStore) -> None:
    store.create_collection(Collection("c", embed_model="m"))
    v0 = store.version("c")
    assert store.put_document("c", _doc("d1", "alpha beta"), "m") is False
    assert store.put_document("c", _doc("d1", "gamma delta"), "m") is True
    assert store.version("c") > v0
    assert [h for _, h in store.lexical_search("c", "gamma", 5)] and not store.lexical_search("c", "alpha", 5)
    ids, matrix = store.vectors("c", "m")
    assert len(ids) == 1 and matrix.shape == (1, 4)
    assert store.get_collection("c").chunks == 1  # type: ignore[union-attr]
    assert store.known_vectors("c", "m", ["T\ngamma delta"])


def test_fts_is_scoped_to_the_collection(store: RagStore) -> None:
    for name in ("a", "b"):
        store.create_collection(Collection(name, embed_model="m"))
    store.put_document("a", _doc("d", "oncology tumour markers"), "m")
    store.put_document("b", _doc("d", "cardiology heart rhythm"), "m")
    assert store.lexical_search("a", "heart", 5) == []
    assert len(store.lexical_search("b", "heart", 5)) == 1


def test_delete_subject_and_cached_answers(store: RagStore) -> None:
    store.create_collection(Collection("c", embed_model="m"))
    store.put_document("c", _doc("d1", "patient one", subject="p1"), "m")
    store.put_document("c", _doc("d2", "patient two", subject="p2"), "m")
    store.cache_answer("c", "k1", "about p1", [("c", "d1")])
    store.cache_answer("c", "k2", "about p2", [("c", "d2")])
    assert store.delete_subject("p1") == {"c": 1}
    assert store.cached_answer("k1") is None and store.cached_answer("k2") == "about p2"
    assert [d["id"] for d in store.list_documents("c")] == ["d2"]


def test_fts_query_quotes_words() -> None:
    assert fts_query('What is "NEAR"(x) the AND?') == '"near" OR "x"'
    assert fts_query("the of") == ""
