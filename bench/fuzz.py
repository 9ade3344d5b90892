"""Fuzz the gateway's HTTP API with schemathesis against its own live /openapi.json.

    python bench/fuzz.py [--cases 10000] [--max-examples 100] [--workers 2] [--seed 1] [--json]

Starts a gateway on 127.0.0.1 whose chat model is a loopback MockUpstream (so chat calls complete in
milliseconds), with the embedded embedding model for /v1/embeddings and RAG, then runs schemathesis (CLI, all
phases, all checks, no redirects followed) over every operation of the document: with a valid key (admin),
with no key (schemathesis makes up auth headers or leaves them out), and with a wrong key. The valid-key pass
repeats with new seeds until ``--cases`` cases have been generated in all.

Prints the cases, the 5xx answers (target 0), the responses that do not match the document (status, content
type, headers, body schema), the requests where the document and the validation disagree, auth findings, and
the first failing case. Findings are reported, never judged: the exit status is 0 unless the run broke.
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from switchyard.config import (
    GatewayConfig,
    ModelConfig,
    Price,
    RouteConfig,
    Settings,
    local_embed_model,
)
from switchyard.gateway import Gateway
from switchyard.server.app import create_app
from switchyard.testing import MockUpstream
from switchyard.testing.serve import serve_in_thread

ADMIN_KEY = "sy-admin-fuzz-key-0123456789abcdef"
RESPONSE_CHECKS = {
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
}
REQUEST_CHECKS = {"negative_data_rejection", "positive_data_acceptance", "missing_required_header"}


def _config(upstream_url: str) -> GatewayConfig:
    chat = ModelConfig.model_validate(
        {
            "name": "mock-chat",
            "provider": "openai",
            "base_url": upstream_url + "/v1",
            "upstream_model": "mock-chat",
            "locality": "us",
            "price": Price(input=1.0, output=2.0),
            "retry": {"max_retries": 0},
            "timeouts": {"connect": 2, "first_token": 10, "total": 20},
        }
    )
    embed = local_embed_model(price=Price(input=0.0, output=0.0))
    return GatewayConfig(models=[chat, embed], routes=[RouteConfig(name="auto", models=["mock-chat"])])


@contextmanager
def gateway(workdir: Path) -> Iterator[str]:
    with MockUpstream(models=["mock-chat"], record=False) as upstream:
        # The no-key and wrong-key passes fail authentication thousands of times from loopback: lift the
        # per-address bound, or they would fuzz the 429 instead of the routes.
        settings = Settings(
            db_path=workdir / "ledger.db",
            admin_key=ADMIN_KEY,
            ledger_flush_interval=0.05,
            auth_failures_per_minute=10**9,
        )
        gw = Gateway(settings, _config(upstream.url), environ={})
        with serve_in_thread(create_app(gateway=gw)) as url:
            yield url


def run_schemathesis(url: str, headers: list[str], max_examples: int, seed: int, workers: int, out: Path) -> Path:
    """One schemathesis run; returns its NDJSON event file."""
    events = out.with_suffix(".ndjson")
    args = [
        sys.executable, "-m", "schemathesis.cli", "run", url + "/openapi.json",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(max_examples), "--seed", str(seed), "--workers", str(workers),
        "--max-redirects", "0", "--request-timeout", "60", "--suppress-health-check", "all",
        "--report", "json,ndjson", "--report-json-path", str(out), "--report-ndjson-path", str(events),
    ]  # fmt: skip
    for header in headers:
        args += ["--header", header]
    # run in the work folder: schemathesis keeps a crash cache (.schemathesis/) in its working directory, which
    # would otherwise land in the repository and replay one run's failures in the next
    subprocess.run(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=3600, check=False, cwd=out.parent
    )
    if not out.exists():
        raise RuntimeError("schemathesis wrote no report")
    return events


def _short(value: Any, limit: int = 300) -> Any:
    text = json.dumps(value, ensure_ascii=True)
    return value if len(text) <= limit else text[:limit] + "..."


def _answer(response: dict[str, Any]) -> Any:
    """What the server said: the error message of an OpenAI- or Anthropic-shaped error body (schemathesis
    keeps the body as ``content``, base64 under ``$base64``)."""
    content = response.get("content")
    if isinstance(content, dict) and isinstance(content.get("$base64"), str):
        content = base64.b64decode(content["$base64"]).decode("utf-8", "replace")
    if not isinstance(content, str):
        return None
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        return _short(content, 200)
    return _short(error.get("message") if isinstance(error, dict) else error, 200)


def findings(events: Path, label: str) -> tuple[list[dict[str, Any]], int]:
    """Every failed check (one row per case and check) and the number of 5xx answers seen."""
    rows: list[dict[str, Any]] = []
    server_errors = 0
    for line in events.read_text().splitlines():
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        recorder = finished["recorder"]
        for interaction in (recorder.get("interactions") or {}).values():
            response = interaction.get("response") or {}
            if response.get("status_code", 0) >= 500:
                server_errors += 1
        for case_id, checks in (recorder.get("checks") or {}).items():
            for check in checks:
                if check["status"] != "failure":
                    continue
                case = recorder["cases"].get(case_id, {}).get("value", {})
                response = (recorder.get("interactions", {}).get(case_id) or {}).get("response") or {}
                failure = (check.get("failure_info") or {}).get("failure", {})
                rows.append(
                    {
                        "pass": label,
                        "check": check["name"],
                        "code": failure.get("code"),
                        "operation": recorder["label"],
                        "request": f"{case.get('method')} {case.get('path')}",
                        "path_parameters": case.get("path_parameters"),
                        "query": case.get("query"),
                        "body": _short(case.get("body")),
                        "status": response.get("status_code"),
                        "answer": _answer(response),
                        "message": (failure.get("message") or failure.get("title") or "").splitlines()[:3],
                    }
                )
    return rows, server_errors


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000, help="generate at least this many cases in all")
    parser.add_argument("--max-examples", type=int, default=100, help="schemathesis --max-examples per operation")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-passes", type=int, default=20, help="valid-key passes at most (guards --cases)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    per_pass: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    server_errors = 0
    cases = 0
    with tempfile.TemporaryDirectory(prefix="sy-fuzz-") as tmp, gateway(Path(tmp)) as url:
        work = Path(tmp)
        wrong = "sy-wrong-key-0000000000000000"
        valid = [f"Authorization: Bearer {ADMIN_KEY}", f"x-api-key: {ADMIN_KEY}"]
        passes: list[tuple[str, list[str], int]] = [
            ("no_key", [], args.seed),
            ("wrong_key", [f"Authorization: Bearer {wrong}", f"x-api-key: {wrong}"], args.seed),
        ]
        passes += [(f"key#{j + 1}", valid, args.seed + j) for j in range(args.max_passes)]
        for i, (label, headers, seed) in enumerate(passes):
            if label != "key#1" and label.startswith("key#") and cases >= args.cases:
                break  # the valid key always runs once; then only until enough cases
            report = work / f"{i}.json"
            events = run_schemathesis(url, headers, args.max_examples, seed, args.workers, report)
            generated = int(json.loads(report.read_text())["test_cases"]["generated"])
            found, errors = findings(events, label)
            per_pass[label] = generated
            cases += generated
            rows += found
            server_errors += errors
    by_check = Counter(r["check"] for r in rows)
    figures: dict[str, Any] = {
        "cases": cases,
        "cases_per_pass": per_pass,
        "server_errors_5xx": server_errors,
        "schema_violations": sum(n for check, n in by_check.items() if check in RESPONSE_CHECKS),
        "request_disagreements": sum(n for check, n in by_check.items() if check in REQUEST_CHECKS),
        "auth_findings": by_check.get("ignored_auth", 0),
        "failures_by_check": dict(sorted(by_check.items())),
        "failing_operations": sorted({f"{r['check']}: {r['operation']}" for r in rows}),
        "first_failing_case": rows[0] if rows else None,
        "one_case_per_failure": list({(r["check"], r["operation"]): r for r in reversed(rows)}.values())[::-1],
        "seconds": round(time.perf_counter() - start, 1),
    }
    for key, value in figures.items():
        print(f"{key:>22}: {value}")
    if args.json:
        print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
