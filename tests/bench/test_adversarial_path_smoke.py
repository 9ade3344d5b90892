"""Smoke test for ``bench/adversarial.py --path`` on a tiny input: it runs a gateway, sends the crafted
requests with the light stream going, and prints its figures (never judged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "adversarial.py"


def test_the_request_path_bench_prints_its_figures() -> None:
    args = ["--path", "--sizes", "4K", "--family", "url_scheme_dots", "--request-family", "invalid_utf8", "--json"]
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert {c["family"] for c in figures["cases"]} == {"url_scheme_dots", "invalid_utf8"}
    assert {c["status"] for c in figures["cases"] if c["family"] == "invalid_utf8"} == {400}
    assert figures["light_requests"] > 0 and "worst_light_p99_ms" in figures and "status_5xx" in figures
