"""GET /metrics through a real gateway: counters agree with the ledger, streams have a time to first
token, decisions carry reason codes, and only the allowed callers may read it."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchyard.config import BudgetConfig
from switchyard.keys import create_key
from switchyard.testing import Fault, MockUpstream
from tests.conftest import ADMIN_KEY

from .configs import config, openai_model


def scrape(url: str, key: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.get(url + "/metrics", headers=headers, timeout=10)


def parse(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_metrics_agree_with_the_ledger(upstream: MockUpstream, gateway_factory, counters_at) -> None:  # type: ignore[no-untyped-def]
    cfg = config(
        openai_model("gpt-mock", upstream.url),
        openai_model("cheap-mock", upstream.url, upstream_model="mock-b", price={"input": 0.1, "output": 0.2}),
        routes={"auto": ["cheap-mock", "gpt-mock"]},
    )
    cfg.budgets = [BudgetConfig(team="research", usd_per_day=10.0)]
    gw = gateway_factory(cfg, **counters_at)
    _, secret = create_key(gw.gateway.store, "research")
    client = openai.OpenAI(base_url=gw.v1, api_key=secret, max_retries=0, timeout=20)
    msgs = [{"role": "user", "content": "count the words in this sentence"}]
    for _ in range(3):
        client.chat.completions.create(model="auto", messages=msgs, max_tokens=16)  # type: ignore[arg-type]
    for _ in range(2):
        stream = client.chat.completions.create(
            model="gpt-mock",
            messages=msgs,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=16,
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    upstream.script([Fault.status(500), Fault.status(500)], model="mock-b")  # first candidate fails: fallback
    client.chat.completions.create(model="auto", messages=msgs, max_tokens=16)  # type: ignore[arg-type]
    upstream.set_default(Fault.status(500), model="mock-model")
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="gpt-mock", messages=msgs, max_tokens=16)  # type: ignore[arg-type]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=gw.v1, api_key="sy-wrong", max_retries=0).models.list()

    gw.flush()
    rows = gw.ledger().recent(100)
    assert len(rows) == 7
    m = parse(scrape(gw.url, ADMIN_KEY).text)

    requests = Counter((r.team, r.route or "-", r.served_model or "-", str(r.status)) for r in rows)
    got = {(lab["team"], lab["route"], lab["model"], lab["status"]): v for lab, v in m["switchyard_requests_total"]}
    assert got == {k: float(v) for k, v in requests.items()}

    def total(name: str, **match: str) -> float:
        return sum(v for lab, v in m.get(name, []) if all(lab.get(k) == x for k, x in match.items()))

    assert total("switchyard_tokens_total", type="input") == sum(r.input_tokens for r in rows)
    assert total("switchyard_tokens_total", type="output") == sum(r.output_tokens for r in rows)
    assert total("switchyard_cost_usd_total") == pytest.approx(sum(r.cost for r in rows))
    assert total("switchyard_counterfactual_cost_usd_total") == pytest.approx(sum(r.counterfactual_cost for r in rows))
    assert total("switchyard_time_to_first_token_seconds_count") == 2  # the two streams
    assert total("switchyard_request_duration_seconds_count") == 7
    assert total("switchyard_route_decisions_total", route="auto", model="cheap-mock", reason="fallback_order") == 3
    assert total("switchyard_route_decisions_total", route="auto", model="gpt-mock", reason="fallback") == 1
    assert total("switchyard_route_decisions_total", route="-", model="gpt-mock", reason="direct") == 3
    assert total("switchyard_request_errors_total", model="gpt-mock") == 1
    assert total("switchyard_http_errors_total", status="401", error_type="AuthenticationFailed") == 1
    assert total("switchyard_http_errors_total", status="502") == 1
    spent = sum(r.cost for r in rows if r.team == "research")
    if counters_at:  # in Redis: a scrape never waits on it, it shows what the scrape before asked for
        for _ in range(100):
            if total("switchyard_budget_used", scope="team:research", limit="usd_per_day") == pytest.approx(spent):
                break
            time.sleep(0.02)
            m = parse(scrape(gw.url, ADMIN_KEY).text)
    assert total("switchyard_budget_used", scope="team:research", limit="usd_per_day") == pytest.approx(spent)
    assert total("switchyard_budget_limit", scope="team:research", limit="usd_per_day") == 10.0


def test_who_may_read_metrics(upstream: MockUpstream, gateway_factory) -> None:  # type: ignore[no-untyped-def]
    cfg = config(openai_model("gpt-mock", upstream.url))
    cfg.access.roles["observer"] = ["metrics:read"]
    # The exploit: with no token set, any loopback client read the metrics, and behind a reverse proxy
    # on the same host every client is a loopback client. Now a credential is needed unless the
    # operator says the metrics are public.
    closed_gw = gateway_factory(cfg)
    assert scrape(closed_gw.url).status_code == 401
    proxied = httpx.get(closed_gw.url + "/metrics", headers={"x-forwarded-for": "203.0.113.9"}, timeout=10)
    assert proxied.status_code == 401
    open_gw = gateway_factory(cfg, metrics_public=True)
    resp = scrape(open_gw.url)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "switchyard_ledger_backlog" in resp.text

    gw = gateway_factory(cfg, metrics_token="scrape-token")
    assert scrape(gw.url).status_code == 401
    assert scrape(gw.url, "wrong").status_code == 401
    assert scrape(gw.url, "scrape-token").status_code == 200
    assert scrape(gw.url, ADMIN_KEY).status_code == 200
    _, plain = create_key(gw.gateway.store, "apps")
    assert scrape(gw.url, plain).status_code == 403
    _, observer = create_key(gw.gateway.store, "ops", roles=("observer",))
    assert scrape(gw.url, observer).status_code == 200
