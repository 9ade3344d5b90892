"""Fault injection through the real gateway: retries, fallbacks, circuit breaker, timeouts, cut streams
and client disconnects, each checked in the ledger (one row per request, one attempt row per try)."""

from __future__ import annotations

import contextlib
import threading
import time

import httpx
import openai
import pytest

from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import config, openai_model

MSG = [{"role": "user", "content": "ping"}]


def client(gw) -> openai.OpenAI:  # type: ignore[no-untyped-def]
    return openai.OpenAI(base_url=gw.v1, api_key=ADMIN_KEY, max_retries=0, timeout=30)


def only_record(gw):  # type: ignore[no-untyped-def]
    gw.flush()
    records = gw.ledger().recent(10)
    assert len(records) == 1
    return records[0]


@pytest.fixture
def two(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = config(
        openai_model("primary", upstream.url, "mock-model", breaker={"failure_threshold": 2, "cooldown_seconds": 60}),
        openai_model("backup", upstream.url, "mock-b"),
        routes={"auto": ["primary", "backup"]},
    )
    return gateway_factory(cfg)


def test_retryable_error_is_retried_on_the_same_model(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.status(503)], model="mock-model")
    resp = client(two).chat.completions.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert resp.choices[0].message.content == "echo: ping"
    rec = only_record(two)
    assert rec.status == 200 and rec.served_model == "primary" and rec.fallback_chain == ["primary"]
    assert [(a.model, a.status, a.error_class) for a in rec.attempts] == [
        ("primary", "error", "UpstreamStatusError"),
        ("primary", "ok", None),
    ]


@pytest.mark.parametrize(
    "fault", [Fault.reset(), Fault.malformed(), Fault.status(500)], ids=["reset", "malformed", "500"]
)
def test_persistent_failure_falls_back_to_the_next_model(two, upstream: MockUpstream, fault: Fault) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(fault, model="mock-model")
    raw = client(two).chat.completions.with_raw_response.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert raw.headers["x-switchyard-model"] == "backup"
    assert raw.headers["x-switchyard-fallbacks"] == "primary,backup"
    rec = only_record(two)
    assert rec.status == 200 and rec.served_model == "backup" and rec.fallback_chain == ["primary", "backup"]
    assert [(a.model, a.status) for a in rec.attempts] == [("primary", "error"), ("primary", "error"), ("backup", "ok")]


def test_client_errors_are_not_retried(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.status(400, "context length exceeded")], model="mock-model")
    with pytest.raises(openai.BadRequestError) as info:
        client(two).chat.completions.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert "context length exceeded" in str(info.value)
    rec = only_record(two)
    assert rec.status == 400 and len(rec.attempts) == 1
    assert len([r for r in upstream.requests if r.path.endswith("/chat/completions")]) == 1


def test_all_failing_gives_502_and_keeps_every_attempt(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.status(500))
    with pytest.raises(openai.APIStatusError) as info:
        client(two).chat.completions.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert info.value.status_code == 502
    rec = only_record(two)
    assert rec.status == 502 and rec.error_class == "UpstreamStatusError"
    assert len(rec.attempts) == 4 and all(a.status == "error" for a in rec.attempts)


def test_circuit_breaker_opens_and_skips_the_deployment(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.status(500), model="mock-model")
    c = client(two)
    c.chat.completions.create(model="auto", messages=MSG)  # type: ignore[arg-type] # 2 failures: opens the circuit
    sent_to_primary = len([r for r in upstream.requests if r.model == "mock-model"])
    assert sent_to_primary == 2
    raw = c.chat.completions.with_raw_response.create(model="auto", messages=MSG)  # type: ignore[arg-type]
    assert raw.headers["x-switchyard-model"] == "backup"
    assert len([r for r in upstream.requests if r.model == "mock-model"]) == sent_to_primary  # skipped
    two.flush()
    latest = two.ledger().recent(1)[0]
    assert [a.model for a in latest.attempts] == ["backup"]
    # Asking for the model directly while its circuit is open: 503, and nothing is sent.
    with pytest.raises(openai.APIStatusError) as info:
        c.chat.completions.create(model="primary", messages=MSG)  # type: ignore[arg-type]
    assert info.value.status_code == 503
    assert len([r for r in upstream.requests if r.model == "mock-model"]) == sent_to_primary


def test_slow_first_token_times_out_and_falls_back(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    gw = gateway_factory(
        config(
            openai_model(
                "slow",
                upstream.url,
                "mock-model",
                timeouts={"first_token": 0.3, "total": 0.5},
                retry={"max_retries": 0},
            ),
            openai_model("fast", upstream.url, "mock-b"),
            routes={"auto": ["slow", "fast"]},
        )
    )
    upstream.set_default(Fault.slow_first_chunk(3.0), model="mock-model")
    upstream.set_default(Fault.slow(3.0), model="mock-model")
    stream = client(gw).chat.completions.create(model="auto", messages=MSG, stream=True)  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "echo: ping"
    rec = only_record(gw)
    assert rec.served_model == "fast"
    assert [(a.model, a.error_class) for a in rec.attempts] == [("slow", "UpstreamTimeout"), ("fast", None)]
    # Non-streaming: the total timeout.
    with pytest.raises(openai.APIStatusError) as info:
        client(gw).chat.completions.create(model="slow", messages=MSG)  # type: ignore[arg-type]
    assert info.value.status_code == 504


def test_stream_cut_midway_is_reported_not_retried(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.script([Fault.cut(after_chunks=2)], model="mock-model")
    r = httpx.post(
        two.v1 + "/chat/completions",
        json={"model": "auto", "messages": MSG, "stream": True},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert r.status_code == 200
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]" and '"error"' in events[-2]
    rec = only_record(two)
    assert rec.status == 502 and rec.error_class == "UpstreamConnectError"
    assert len(rec.attempts) == 1  # output had reached the client: no retry, no fallback
    assert len([r for r in upstream.requests if r.path.endswith("/chat/completions")]) == 1


def test_client_disconnect_cancels_the_upstream_call(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.slow(5.0), model="mock-model")
    done = threading.Event()

    def call() -> None:
        with contextlib.suppress(httpx.TimeoutException):
            httpx.post(
                two.v1 + "/chat/completions",
                json={"model": "primary", "messages": MSG},
                headers={"authorization": f"Bearer {ADMIN_KEY}"},
                timeout=0.5,
            )
        done.set()

    threading.Thread(target=call).start()
    assert done.wait(5)
    deadline = time.monotonic() + 4
    while upstream.client_disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.client_disconnects >= 1
    rec = only_record(two)
    assert rec.status == 499 and rec.served_model == "primary"


def test_stream_disconnect_cancels_the_upstream_stream(two, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.slow_stream(0.3), model="mock-model")
    with httpx.stream(
        "POST",
        two.v1 + "/chat/completions",
        json={"model": "primary", "messages": [{"role": "user", "content": "a b c d e f g h"}], "stream": True},
        headers={"authorization": f"Bearer {ADMIN_KEY}"},
        timeout=10,
    ) as r:
        next(r.iter_lines())  # some output arrived; now hang up
    deadline = time.monotonic() + 4
    while upstream.client_disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.client_disconnects >= 1
    rec = only_record(two)
    assert rec.status == 499 and rec.stream


def test_round_robin_and_least_busy_spread_requests(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    with MockUpstream() as second:
        gw = gateway_factory(
            config(
                openai_model(
                    "pooled",
                    upstream.url,
                    deployments=[{"base_url": upstream.url + "/v1"}, {"base_url": second.url + "/v1"}],
                )
            )
        )
        c = client(gw)
        for _ in range(6):
            c.chat.completions.create(model="pooled", messages=MSG)  # type: ignore[arg-type]
        first_count = len([r for r in upstream.requests if r.path.endswith("/chat/completions")])
        second_count = len([r for r in second.requests if r.path.endswith("/chat/completions")])
        assert (first_count, second_count) == (3, 3)
