"""A real gateway and the CLIs on the PostgreSQL store (``SWITCHYARD_STORE=postgres`` and the DSN from the
environment): a key made by ``switchyard keys create``, requests sent with the openai SDK through a loopback
upstream, and what the ledger on the server then says (costs, attempts, rollups, ``switchyard usage``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.store.base import RollupFilter
from switchyard.store.postgres import PostgresStore
from switchyard.testing import MockUpstream
from tests.server.configs import config, openai_model

from ..conftest import PostgresServer, RunningGateway, fresh_database

runner = CliRunner(env={"COLUMNS": "200"})


@pytest.fixture
def dsn(postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with fresh_database(postgres_server) as d:
        monkeypatch.setenv("SWITCHYARD_STORE", "postgres")
        monkeypatch.setenv("SWITCHYARD_POSTGRES_DSN", d)
        monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
        yield d


def test_the_gateway_and_the_clis_on_postgres(
    dsn: str, upstream: MockUpstream, gateway_factory: Callable[..., RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    made = runner.invoke(app, ["keys", "create", "--team", "research", "--name", "ci"])
    assert made.exit_code == 0, made.output
    secret = re.search(r"secret: (\S+)", made.stdout).group(1)  # type: ignore[union-attr]
    key_id = re.search(r"id:\s+(\S+)", made.stdout).group(1)  # type: ignore[union-attr]

    cfg = config(
        openai_model("gpt-mock", upstream.url),
        openai_model("cheap-mock", upstream.url, upstream_model="mock-b", tier="standard"),
        routes={"auto": ["gpt-mock", "cheap-mock"]},
    )
    # The environment names the store; the settings the gateway is built with say it again (run_gateway
    # passes explicit settings, which win over the environment).
    gw = gateway_factory(cfg, store="postgres", postgres_dsn=dsn)
    assert isinstance(gw.gateway.store, PostgresStore)
    client = openai.OpenAI(base_url=gw.v1, api_key=secret, max_retries=0, timeout=20)
    ids: dict[str, str] = {}
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "hello there"}], max_tokens=20
    )
    ids["plain"] = raw.headers["x-request-id"]
    stream = client.chat.completions.with_raw_response.create(
        model="gpt-mock", messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    ids["stream"] = stream.headers["x-request-id"]
    assert "".join(c.choices[0].delta.content or "" for c in stream.parse() if c.choices) == "echo: one two three"
    upstream.fail_next(2, model="mock-model")  # the first model fails its try and retry: the route falls back
    fell_back = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "again"}], max_tokens=20
    )
    ids["fallback"] = fell_back.headers["x-request-id"]
    assert fell_back.headers["x-switchyard-model"] == "cheap-mock"

    gw.flush()
    ledger = PostgresStore(dsn)
    try:
        recs = {name: ledger.get(request_id) for name, request_id in ids.items()}
        for name, rec in recs.items():
            assert rec is not None, name
            assert (rec.status, rec.team, rec.key_id) == (200, "research", key_id)
            assert rec.cost == pytest.approx((rec.input_tokens * 2.0 + rec.output_tokens * 8.0) / 1e6)
            assert rec.cost > 0 and rec.cost == pytest.approx(sum(a.cost for a in rec.attempts))
        plain, streamed, fallback = recs["plain"], recs["stream"], recs["fallback"]
        assert plain is not None and streamed is not None and fallback is not None
        assert [a.status for a in plain.attempts] == ["ok"] and plain.route == "auto"
        assert streamed.stream and streamed.ttft_ms is not None and streamed.served_model == "gpt-mock"
        tried = [(a.model, a.status) for a in fallback.attempts]
        assert tried[0] == ("gpt-mock", "error") and tried[-1] == ("cheap-mock", "ok"), tried
        assert fallback.fallback_chain[0] == "gpt-mock" and fallback.fallback_chain[-1] == "cheap-mock"
        total = sum(r.cost for r in recs.values() if r is not None)
        assert ledger.spend_by_scope(0)[f"key:{key_id}"] == pytest.approx(total)
        assert sum(d.requests for d in ledger.daily(RollupFilter(team="research"))) == 3
        assert {r.id for r in gw.ledger().recent()} == set(ids.values())
    finally:
        ledger.close()

    usage = runner.invoke(app, ["usage", "--json"])
    assert usage.exit_code == 0, usage.output
    rows: list[dict[str, Any]] = json.loads(usage.stdout)
    assert sum(r["requests"] for r in rows if r["team"] == "research") == 3
    assert sum(r["cost"] for r in rows) == pytest.approx(total)
    listed = runner.invoke(app, ["keys", "list"])
    assert key_id in listed.stdout and secret not in listed.stdout
    monkeypatch.delenv("SWITCHYARD_POSTGRES_DSN")
    missing = runner.invoke(app, ["usage"])
    assert missing.exit_code != 0 and "SWITCHYARD_POSTGRES_DSN" in str(missing.exception or missing.output)
