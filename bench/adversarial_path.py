"""Crafted requests through the whole request path of a running gateway, while a light stream of ordinary
requests measures whether everyone else is still served.

    python bench/adversarial.py --path [--sizes 64K,1M,4M] [--family NAME ...] [--json]

Starts the loopback mock upstream and a gateway (``switchyard serve``, a route with residency rules, so
the shipped detector reads every request) as subprocesses. A thread sends a small chat request every
``--light-interval`` seconds for the whole run. Each crafted request (the detector's families from
``bench/adversarial.py`` as message text, plus request-level families: deep JSON nesting, a huge number,
many tiny messages, a long unicode run, invalid UTF-8, a body sent slowly) is sent once per size; for each
it prints the status, the time to its answer, ms per KB of body, and the light stream's p99 and worst
latency while it ran. Timings are printed, never judged.
"""

from __future__ import annotations

import http.client
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overhead import HOST, child_env, free_port, started, switchyard_command, wait_ready

MODEL = "auto"
BODY_LIMIT = 6 * 1024 * 1024  # above the 4M sizes, so they reach the detector (or its size rule)


def chat_body(content: str, **extra: Any) -> bytes:
    return json.dumps(
        {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": content}], **extra}
    ).encode()


def deep_json(size: int) -> bytes:
    depth = max(1, size // 2)
    return (
        b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "x": ' + b"[" * depth + b"]" * depth + b"}"
    )


def huge_number(size: int) -> bytes:
    return b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}], "seed": 1' + b"7" * size + b"}"


def many_messages(size: int) -> bytes:
    one = {"role": "user", "content": "hi"}
    count = max(1, size // len(json.dumps(one)))
    return json.dumps({"model": MODEL, "max_tokens": 8, "messages": [one] * count}).encode()


def invalid_utf8(size: int) -> bytes:
    return b'{"model": "auto", "messages": [{"role": "user", "content": "' + b"\xff\xfe" * (size // 2) + b'"}]}'


def request_families(text_families: dict[str, Callable[[int], str]]) -> dict[str, Callable[[int], bytes]]:
    out: dict[str, Callable[[int], bytes]] = {
        name: (lambda n, f=make: chat_body(f(n))) for name, make in text_families.items()
    }
    out.update(
        {
            "deep_json": deep_json,
            "huge_number": huge_number,
            "many_tiny_messages": many_messages,
            "unicode_run": lambda n: chat_body("é" * (n // 2)),
            "invalid_utf8": invalid_utf8,
            "slow_body": lambda n: chat_body("a quiet sentence. " * (n // 18)),
        }
    )
    return out


def post_raw(port: int, body: bytes, key: str, *, slow: bool = False, timeout: float = 600) -> int:
    """POST ``body`` on a raw socket (invalid UTF-8 and slow sending included); the status, or 0 on failure."""
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {key}\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            try:
                sock.sendall(head)
                if slow:  # ~10 chunks a second: a client that trickles its body
                    step = max(1, len(body) // 50)
                    for i in range(0, len(body), step):
                        sock.sendall(body[i : i + step])
                        time.sleep(0.1)
                else:
                    sock.sendall(body)
            except OSError:
                pass  # the server answered early (413) and closed: its answer may still be readable
            line = sock.makefile("rb").readline()
            return int(line.split()[1]) if line.startswith(b"HTTP/") else 0
    except OSError:
        return 0


class LightStream:
    """Small chat requests at a steady pace, on their own connection; latencies with their start times."""

    def __init__(self, port: int, key: str, interval: float) -> None:
        self.port, self.key, self.interval = port, key, interval
        self.samples: list[tuple[float, float, int]] = []  # (started, seconds, status)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        body = chat_body("What is the capital of France?")
        headers = {"content-type": "application/json", "authorization": f"Bearer {self.key}"}
        conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                conn.request("POST", "/v1/chat/completions", body, headers)
                resp = conn.getresponse()
                resp.read()
                status = resp.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                status = 0
            self.samples.append((t0, time.monotonic() - t0, status))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - t0)))
        conn.close()

    def __enter__(self) -> LightStream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

    def window(self, start: float, end: float) -> dict[str, float | int | None]:
        lat = sorted(s for t, s, _ in self.samples if start <= t <= end)
        if not lat:
            return {"light_requests": 0, "light_p99_ms": None, "light_max_ms": None}
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return {"light_requests": len(lat), "light_p99_ms": p99 * 1000, "light_max_ms": lat[-1] * 1000}


def write_config(path: Path, upstream_port: int) -> None:
    path.write_text(
        f"""models:
  - name: cloud
    provider: openai
    base_url: http://{HOST}:{upstream_port}/v1
    upstream_model: mock-model
    locality: us
    price: {{input: 0.5, output: 1.5}}
  - name: local
    provider: openai
    base_url: http://{HOST}:{upstream_port}/v1
    upstream_model: mock-b
    locality: on_prem
    price: {{input: 0.1, output: 0.1}}
routes:
  - name: {MODEL}
    models: [cloud, local]
    policy: {{residency: {{pii: [on_prem], health: [on_prem], financial: [on_prem], secret: [on_prem]}}}}
"""
    )


def run(
    sizes: list[int], families: dict[str, Callable[[int], bytes]], interval: float, log: Callable[[str], None]
) -> dict[str, Any]:
    key = "sy-bench-admin-key-0123456789abcdef"
    with tempfile.TemporaryDirectory(prefix="switchyard-adversarial-") as tmp:
        work = Path(tmp)
        mock_port, gw_port = free_port(), free_port()
        config = work / "switchyard.yaml"
        write_config(config, mock_port)
        mock_cmd = [sys.executable, "-m", "switchyard.testing.mock_upstream", "--host", HOST, "--port", str(mock_port)]
        gw_cmd = [*switchyard_command(), "serve", "--config", str(config), "--host", HOST, "--port", str(gw_port)]
        env = child_env(
            SWITCHYARD_ADMIN_KEY=key,
            SWITCHYARD_DB_PATH=str(work / "ledger.db"),
            SWITCHYARD_LOG_LEVEL="warning",
            SWITCHYARD_MAX_BODY_BYTES=str(BODY_LIMIT),
        )
        cases: list[dict[str, Any]] = []
        with started(mock_cmd, work / "mock.log", child_env()) as mock:
            wait_ready(mock, mock_port, "/v1/models", work / "mock.log")
            with started(gw_cmd, work / "gateway.log", env) as gw:
                wait_ready(gw, gw_port, "/readyz", work / "gateway.log")
                post_raw(gw_port, chat_body("warm up the detector's word lists"), key)
                with LightStream(gw_port, key, interval) as light:
                    time.sleep(1.0)
                    baseline_end = time.monotonic()
                    for name, make in families.items():
                        for size in sizes:
                            body = make(size)
                            t0 = time.monotonic()
                            status = post_raw(gw_port, body, key, slow=name == "slow_body")
                            elapsed = time.monotonic() - t0
                            case = {
                                "family": name,
                                "size": size,
                                "body_bytes": len(body),
                                "status": status,
                                "ms": elapsed * 1000,
                                "ms_per_kb": elapsed * 1000 / (len(body) / 1024),
                                **light.window(t0, t0 + elapsed),
                            }
                            cases.append(case)
                            p99 = case["light_p99_ms"]
                            log(
                                f"{name:<22} {size // 1024:>5}K  status {status:>3}  {case['ms']:9.1f} ms  "
                                f"{case['ms_per_kb']:7.3f} ms/KB  light p99 "
                                + ("   n/a" if p99 is None else f"{p99:7.1f} ms")
                                + f" over {case['light_requests']}"
                            )
                    baseline = light.window(baseline_end - 1.0, baseline_end)
                    all_lat = [s * 1000 for _, s, _ in light.samples]
                    light_errors = sum(1 for _, _, st in light.samples if st != 200)
    p99s = [c["light_p99_ms"] for c in cases if c["light_p99_ms"] is not None]
    return {
        "sizes": sizes,
        "cases": cases,
        # The slow body's time is the client's own trickling: it measures the others' latency, not ours.
        "worst_ms_per_kb": max((c["ms_per_kb"] for c in cases if c["family"] != "slow_body"), default=0.0),
        "worst_light_p99_ms": max(p99s) if p99s else None,
        "light_p99_ms_overall": statistics.quantiles(all_lat, n=100)[98] if len(all_lat) >= 2 else None,
        "light_requests": len(all_lat),
        "light_errors": light_errors,
        "baseline_light_p99_ms": baseline["light_p99_ms"],
        "status_5xx": sum(1 for c in cases if c["status"] >= 500 or c["status"] == 0),
    }
