"""Hanging up before the answer is not free: the upstream had the prompt and bills it, so the ledger and
the budget charge the counted prompt tokens (marked estimated) instead of refunding the reservation.
Exploit tests against the real gateway: before the fix these requests cost 0 and left the budget untouched."""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from switchyard.config import BudgetConfig, GatewayConfig
from switchyard.keys import create_key
from switchyard.testing import Fault, MockUpstream
from switchyard.tokens import TokenCounter
from switchyard.types import ChatRequest

from .configs import openai_model

PROMPT = "Please write a detailed essay about the history of railway switchyards in Europe."
MSG = [{"role": "user", "content": PROMPT}]


@pytest.fixture
def billed(upstream: MockUpstream, gateway_factory):  # type: ignore[no-untyped-def]
    cfg = GatewayConfig(
        models=[
            openai_model(
                "premium",
                upstream.url,
                price={"input": 10.0, "output": 30.0},
                retry={"max_retries": 0},
                timeouts={"connect": 2, "first_token": 1.0, "total": 1.0},
            )
        ],
        budgets=[BudgetConfig(team="apps", usd_per_day=100.0)],
    )
    gw = gateway_factory(cfg)
    _, gw.key = create_key(gw.gateway.store, "apps")  # the admin key has no budget: a team key does
    return gw


def prompt_tokens() -> int:
    return TokenCounter().count(ChatRequest(model="premium", messages=MSG).prompt_text())  # type: ignore[arg-type]


def wait_for_disconnect(upstream: MockUpstream) -> None:
    deadline = time.monotonic() + 5
    while upstream.client_disconnects < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert upstream.client_disconnects >= 1


def only_record(gw):  # type: ignore[no-untyped-def]
    gw.flush()
    records = gw.ledger().recent(10)
    assert len(records) == 1
    return records[0]


def usd_day_used(gw) -> float:  # type: ignore[no-untyped-def]
    return next(u.used for u in gw.gateway.budgets.current_use() if u.limit_name == "usd_per_day")


def hang_up_once_upstream_has_it(gw, upstream: MockUpstream, body: dict[str, object]) -> None:  # type: ignore[no-untyped-def]
    """Send the request on a raw socket and close it as soon as the upstream has received the call."""
    host, port = gw.url.removeprefix("http://").split(":")
    payload = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {gw.key}\r\ncontent-length: {len(payload)}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(head.encode() + payload)
        assert upstream.wait_until(lambda u: len(u.requests) >= 1, timeout=10)
    wait_for_disconnect(upstream)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_hanging_up_before_the_first_token_is_charged_the_prompt(billed, upstream: MockUpstream, stream: bool) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.slow(5.0))  # no answer for 5 s (past the 1 s timeout): the client leaves first
    hang_up_once_upstream_has_it(billed, upstream, {"model": "premium", "messages": MSG, "stream": stream})
    rec = only_record(billed)
    n = prompt_tokens()
    assert rec.status == 499
    assert (rec.input_tokens, rec.output_tokens, rec.tokens_estimated) == (n, 0, True)
    assert rec.cost == pytest.approx(n * 10.0 / 1e6, rel=1e-12) and rec.cost > 0
    assert rec.attempts[0].input_tokens == n
    assert usd_day_used(billed) == pytest.approx(rec.cost, rel=1e-9)  # not refunded


def test_a_timed_out_call_is_charged_the_prompt(billed, upstream: MockUpstream) -> None:  # type: ignore[no-untyped-def]
    upstream.set_default(Fault.slow(3.0))  # past the model's 1 s total timeout
    r = httpx.post(
        billed.v1 + "/chat/completions",
        json={"model": "premium", "messages": MSG},
        headers={"authorization": f"Bearer {billed.key}"},
        timeout=10,
    )
    assert r.status_code == 504
    rec = only_record(billed)
    n = prompt_tokens()
    assert (rec.status, rec.input_tokens, rec.tokens_estimated) == (504, n, True)
    assert rec.cost == pytest.approx(n * 10.0 / 1e6, rel=1e-12)
    assert usd_day_used(billed) == pytest.approx(rec.cost, rel=1e-9)
