"""Gateway overhead: what switchyard adds in front of a fast upstream, beside a bare proxy and LiteLLM.

    python bench/overhead.py --rps R[,R...] --seconds S [--peer litellm] [--workers N] [--ramp] [--json]

Starts on free 127.0.0.1 ports the loopback mock upstream and, in front of it, the targets of
``overhead_targets.py``: ``direct`` (the mock itself), ``bare`` (an aiohttp pass-through proxy, the CPU
baseline), ``switchyard`` (``serve --workers N`` with a realistic config: a team key, a budget checked on
every request, a route with residency rules so the detector scans every prompt) and, with ``--peer
litellm``, the LiteLLM proxy (one worker, in its own venv under ``--cache-dir``). For each rate the
targets are driven one after the other (interleaved: direct, bare, switchyard, litellm) with the same
open-loop request mix (request ``i`` is sent at ``t0 + i/R`` whatever the earlier ones are doing; half
streamed by default; a warm-up second first, left out of the figures). Per target and rate: latency
percentiles, the latency *added* over ``direct`` at the same rate, achieved rate, errors, CPU ms per
request and RSS of the target's process tree (workers included), the upstream's and the load generator's
CPU, and the machine's other load during that window (CPU cores used by processes not ours, and the
1-minute load average): on a shared machine no figure is printed without it.

``--ramp`` then finds each target's highest sustained rate. The rule: a rate is *sustained* when a
window of ``--ramp-seconds`` at it has 0 errors, achieves >= 95% of the offered rate, and has p99 <=
``--ramp-p99-ms`` (500 ms). From ``--ramp-start`` the rate doubles while sustained (up to ``--ramp-max``;
a target still sustained there is reported as capped), then bisects between the last sustained and the
first failed rate until they are within ``--ramp-precision`` (10%) of each other. The load generator's
own limit caps every target: ``direct``'s ramp shows it.

After the run the gateway is stopped gracefully (SIGTERM) and its ledger rows are counted: they should
equal the requests sent to it. With ``--json`` the last line is one JSON object: ``direct``, ``bare``,
``switchyard``, ``litellm`` each keyed by rate (``"25"``) with ``added_p50_ms``, ``added_p99_ms``,
``rps_achieved``, ``errors``, ``cpu_ms_per_request``, ``rss_mb``, ``other_load_cores``, ``loadavg_1m`` and
more; then ``ramp``, ``ratios`` (switchyard's CPU over bare's, its sustained rate over LiteLLM's),
``ledger`` and ``settings``. Timings are reported, never judged.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overhead_loadgen import Load, Phase, first_errors, percentile, phase_stats, run_phase
from overhead_procs import (
    HOST,
    STOP_TIMEOUT,
    CpuUse,
    child_env,
    cpu_meter,
    free_port,
    started,
    stop,
    switchyard_command,
    tail,
    tree_memory_mb,
    wait_quiet,
    wait_ready,
)
from overhead_targets import (
    DEFAULT_CACHE,
    LITELLM_VERSION,
    Target,
    bare_proxy,
    ledger_rows,
    litellm_proxy,
    mock_upstream,
    switchyard_gateway,
)

# Names other benchmarks import from here (bench/toolcalls.py, adversarial_path.py, worker_kill.py).
__all__ = ["HOST", "child_env", "free_port", "main", "percentile", "started", "stop", "switchyard_command", "tail"]
__all__ += ["wait_ready"]

TARGETS = ("direct", "bare", "switchyard", "litellm")
SUSTAINED_SHARE = 0.95


def note(msg: str) -> None:
    print(f"[overhead] {msg}", file=sys.stderr, flush=True)


def rate_key(rate: float) -> str:
    return f"{rate:g}"


# --- one window ---------------------------------------------------------------------------------------------


def measure(target: Target, load: Load, pids: dict[str, int]) -> tuple[dict[str, Any], int]:
    """Drive one target at one rate; its figures, and the requests sent (warm-up included)."""
    note(f"{target.name}: {load.rps:g} RPS for {load.warmup:g}+{load.seconds:g} s")
    with cpu_meter(pids) as box:
        phase = run_phase(target.name, target.endpoint, load)
    memory = tree_memory_mb(target.pid)
    waited = wait_quiet(target.pid)
    if waited > 2:
        note(f"{target.name} was busy {waited:.0f} s after the window (its backlog)")
    return window_figures(target, phase, box[0], memory), len(phase.samples)


def window_figures(target: Target, phase: Phase, cpu: CpuUse, memory: dict[str, float]) -> dict[str, Any]:
    stats = phase_stats(phase)
    sent = len(phase.samples)
    out: dict[str, Any] = {"rps_offered": None, **stats}
    out |= {
        "cpu_ms_per_request": cpu.per_request(target.name, sent),
        "cpu_cores": cpu.cores(target.name),
        "cpu_wait_ms_per_request": cpu.per_request(target.name, sent, wait=True),
        "rss_mb": memory.get("VmRSS"),
        "peak_rss_mb": memory.get("VmHWM"),
        "upstream_cpu_ms_per_request": cpu.per_request("direct", sent),
        "loadgen_cpu_ms_per_request": cpu.per_request("loadgen", sent),
        "other_load_cores": cpu.other_cores,
        "loadavg_1m": cpu.loadavg,
        "window_s": round(cpu.wall, 2),
        "first_errors": first_errors(phase),
    }
    return out


def load_for(args: argparse.Namespace, rate: float, *, ramp: bool = False) -> Load:
    seconds, timeout = (args.ramp_seconds, args.ramp_timeout) if ramp else (args.seconds, args.timeout)
    return Load(rate, seconds, args.warmup, args.stream_share, args.concurrency_limit, timeout)


# --- fixed rates, interleaved -----------------------------------------------------------------------------


def measure_rates(
    args: argparse.Namespace, targets: list[Target], pids: dict[str, int], sent: dict[str, int]
) -> dict[str, dict[str, Any]]:
    figures: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
    for rate in args.rps:
        for target in targets:
            entry, n = measure(target, load_for(args, rate), pids)
            entry["rps_offered"] = rate
            figures[target.name][rate_key(rate)] = entry
            sent[target.name] = sent.get(target.name, 0) + n
        add_overhead(figures, rate_key(rate))
    return figures


def add_overhead(figures: dict[str, dict[str, Any]], key: str) -> None:
    """``added_*``: each target's percentile minus direct's at the same rate; ``cpu_vs_bare``."""
    base = figures["direct"].get(key, {})
    bare_cpu = figures.get("bare", {}).get(key, {}).get("cpu_ms_per_request")
    for entry in (by_rate[key] for by_rate in figures.values() if key in by_rate):
        for stat in [k for k in entry if k.startswith(("p5", "p9", "ttfb_"))]:
            if entry[stat] is not None and base.get(stat) is not None:
                entry[f"added_{stat}"] = round(entry[stat] - base[stat], 3)
            else:
                entry[f"added_{stat}"] = None
        if bare_cpu:
            entry["cpu_vs_bare"] = round(entry["cpu_ms_per_request"] / bare_cpu, 2)


# --- the ramp -----------------------------------------------------------------------------------------------


def sustained(entry: dict[str, Any], rate: float, p99_bound_ms: float) -> bool:
    p99 = entry.get("p99_ms")
    return (
        entry["errors"] == 0
        and entry["rps_achieved"] >= SUSTAINED_SHARE * rate
        and p99 is not None
        and p99 <= p99_bound_ms
    )


def ramp(args: argparse.Namespace, target: Target, pids: dict[str, int], sent: dict[str, int]) -> dict[str, Any]:
    """Doubling from ``--ramp-start``, then bisecting: the highest rate the target sustains (see the
    module docstring for the rule)."""
    steps: list[dict[str, Any]] = []

    def trial(rate: float) -> bool:
        entry, n = measure(target, load_for(args, rate, ramp=True), pids)
        sent[target.name] = sent.get(target.name, 0) + n
        ok = sustained(entry, rate, args.ramp_p99_ms)
        keep = ("rps_achieved", "errors", "p50_ms", "p99_ms", "cpu_ms_per_request", "other_load_cores", "loadavg_1m")
        steps.append({"rps": rate, "sustained": ok} | {k: entry[k] for k in keep})
        return ok

    lo, hi = search_rate(trial, args.ramp_start, args.ramp_max, args.ramp_precision)
    return {"max_sustained_rps": lo, "first_failed_rps": hi, "capped": hi is None, "steps": steps}


def search_rate(
    trial: Callable[[float], bool], start: float, top: float, precision: float
) -> tuple[float, float | None]:
    """(highest rate that passed, lowest that failed or None): doubling up from ``start`` (halving down
    when ``start`` fails), then bisecting until ``failed / passed <= 1 + precision``."""
    passed, failed = 0.0, None
    rate = start
    while rate <= top:
        if not trial(rate):
            failed = rate
            break
        passed, rate = rate, rate * 2
    while not passed and failed is not None and failed / 2 >= 1:
        rate = round(failed / 2)
        if trial(rate):
            passed = rate
        else:
            failed = rate
    while passed and failed is not None and failed / passed > 1 + precision:
        rate = round((passed + failed) / 2)
        if rate in (passed, failed):
            break
        if trial(rate):
            passed = rate
        else:
            failed = rate
    return passed, failed


# --- the run ------------------------------------------------------------------------------------------------


def ports(args: argparse.Namespace) -> list[int]:
    if args.port_base:
        return [args.port_base + i for i in range(len(TARGETS))]
    return [free_port() for _ in TARGETS]


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    mock_port, bare_port, gw_port, peer_port = ports(args)
    sent: dict[str, int] = {}
    with contextlib.ExitStack() as stack:
        direct = stack.enter_context(mock_upstream(workdir, mock_port))
        bare = stack.enter_context(bare_proxy(workdir, bare_port, mock_port))
        gateway = stack.enter_context(
            switchyard_gateway(workdir, gw_port, mock_port, args.gateway_config, args.workers)
        )
        targets = [direct, bare, gateway.target]
        if args.peer == "litellm":
            targets.append(stack.enter_context(litellm_proxy(workdir, peer_port, mock_port, args.cache_dir)))
        pids = {t.name: t.pid for t in targets} | {"loadgen": os.getpid()}
        note("pids: " + ", ".join(f"{name} {pid}" for name, pid in pids.items()))
        figures = measure_rates(args, targets, pids, sent)
        ramps = {t.name: ramp(args, t, pids, sent) for t in targets} if args.ramp else {}
        note("stopping the gateway (SIGTERM) and reading its ledger")
        stop_started = time.monotonic()
        exit_code = stop(gateway.proc, timeout=STOP_TIMEOUT)
        ledger = {
            "ledger_rows": ledger_rows(gateway.db),
            "gateway_requests": sent.get("switchyard", 0),
            "gateway_exit_code": exit_code,
            "gateway_stop_s": round(time.monotonic() - stop_started, 2),
        }
    return figures | {
        "ramp": ramps,
        "ratios": ratios(figures, ramps),
        "ledger": ledger,
        "settings": settings(args),
    }


def ratios(figures: dict[str, dict[str, Any]], ramps: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "switchyard_cpu_vs_bare": {k: e.get("cpu_vs_bare") for k, e in figures.get("switchyard", {}).items()},
    }
    if "litellm" in figures:
        out["litellm_cpu_vs_bare"] = {k: e.get("cpu_vs_bare") for k, e in figures["litellm"].items()}
    sy, ll = (ramps.get(n, {}).get("max_sustained_rps") for n in ("switchyard", "litellm"))
    if sy and ll:
        out["switchyard_vs_litellm_sustained_rps"] = round(sy / ll, 1)
    return out


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rps": args.rps,
        "seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "stream_share": args.stream_share,
        "workers": args.workers,
        "gateway_config": args.gateway_config,
        "peer": args.peer,
        "litellm_version": LITELLM_VERSION if args.peer == "litellm" else None,
        "ramp": {
            "start": args.ramp_start,
            "max": args.ramp_max,
            "seconds": args.ramp_seconds,
            "p99_bound_ms": args.ramp_p99_ms,
            "precision": args.ramp_precision,
            "achieved_share": SUSTAINED_SHARE,
        }
        if args.ramp
        else None,
        "cpu_count": os.cpu_count(),
    }


# --- the output ----------------------------------------------------------------------------------------------


def fmt(value: Any, width: int = 8) -> str:
    if value is None:
        return "n/a".rjust(width)
    return f"{value:{width}.2f}" if isinstance(value, float) else f"{value!s:>{width}}"


COLUMNS = (
    ("achieved", "rps_achieved"),
    ("errors", "errors"),
    ("p50", "p50_ms"),
    ("p99", "p99_ms"),
    ("add p50", "added_p50_ms"),
    ("add p99", "added_p99_ms"),
    ("add p99s", "added_p99_ms_stream"),
    ("cpu ms", "cpu_ms_per_request"),
    ("x bare", "cpu_vs_bare"),
    ("RSS MB", "rss_mb"),
    ("other", "other_load_cores"),
    ("load1", "loadavg_1m"),
)


def human(r: dict[str, Any]) -> list[str]:
    s = r["settings"]
    lines = [
        f"{s['seconds']:g} s per window (+{s['warmup_seconds']:g} s warm-up), {s['stream_share']:.0%} streamed, "
        f"switchyard config {s['gateway_config']}, {s['workers']} worker(s), {s['cpu_count']} cores; latency in ms "
        "(add = over direct at the same rate; add p99s = streamed, last byte), CPU ms per request of the target's "
        "process tree, other = cores used by processes not ours during the window, load1 = 1-min load average",
        f"{'target':<11}{'offered':>8}" + "".join(f"{label:>9}" for label, _ in COLUMNS),
    ]
    for rate in s["rps"]:
        for name in (t for t in TARGETS if t in r):
            entry = r[name][rate_key(rate)]
            lines.append(f"{name:<11}{rate:>8g}" + "".join(f" {fmt(entry.get(key))}" for _, key in COLUMNS))
    for name, found in r["ramp"].items():
        top = found["max_sustained_rps"]
        worst = max((step["other_load_cores"] for step in found["steps"]), default=0.0)
        suffix = " (capped: the ramp's top)" if found["capped"] else f", failed at {found['first_failed_rps']:g}"
        lines.append(
            f"ramp {name}: highest sustained {top:g} RPS{suffix}; other load up to {worst:.2f} cores "
            f"over {len(found['steps'])} steps"
        )
    if r["ratios"].get("switchyard_vs_litellm_sustained_rps"):
        lines.append(f"switchyard sustains {r['ratios']['switchyard_vs_litellm_sustained_rps']}x LiteLLM's rate")
    led = r["ledger"]
    lines.append(
        f"ledger rows after SIGTERM: {led['ledger_rows']} for {led['gateway_requests']} requests sent to switchyard "
        f"(warm-up included); exit code {led['gateway_exit_code']}, stopped in {led['gateway_stop_s']} s"
    )
    for name in (t for t in TARGETS if t in r):
        for entry in r[name].values():
            lines += [f"error: {e}" for e in entry["first_errors"]]
    return lines


# --- the command line ---------------------------------------------------------------------------------------


def rates(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of rates: {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("rates must be positive")
    return values


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Latency and CPU switchyard adds, beside a bare proxy and LiteLLM.")
    parser.add_argument("--rps", type=rates, required=True, help="arrival rate(s), e.g. 25,50,100")
    parser.add_argument("--seconds", type=float, required=True, help="measured seconds per window")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    parser.add_argument("--peer", choices=("none", "litellm"), default="none", help="a peer gateway beside ours")
    parser.add_argument("--workers", type=int, default=1, help="switchyard serve --workers N (N > 1 starts a Redis)")
    parser.add_argument(
        "--gateway-config",
        choices=("realistic", "thin"),
        default="realistic",
        help="realistic: team key, budget, residency rules (default); thin: admin key, no rules",
    )
    parser.add_argument(
        "--ramp", action="store_true", help="after the fixed rates, find each target's highest sustained rate"
    )
    parser.add_argument("--ramp-start", type=float, default=25.0, help="the ramp's first rate (default 25)")
    parser.add_argument("--ramp-max", type=float, default=3200.0, help="the ramp's highest rate (default 3200)")
    parser.add_argument("--ramp-seconds", type=float, default=5.0, help="measured seconds per ramp step (default 5)")
    parser.add_argument("--ramp-p99-ms", type=float, default=500.0, help="p99 bound of a sustained rate (default 500)")
    parser.add_argument("--ramp-precision", type=float, default=0.1, help="bisect until within this share (0.1)")
    parser.add_argument("--ramp-timeout", type=float, default=10.0, help="seconds one ramp request may take")
    parser.add_argument("--stream-share", type=float, default=0.5, help="fraction of streamed requests (0..1)")
    parser.add_argument("--concurrency-limit", type=int, default=512, help="most requests in flight at once")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds sent first and left out (default 1)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one request may take")
    parser.add_argument("--port-base", type=int, default=0, help="use this port and the next 3 (default: free ports)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help="where the LiteLLM venv is kept")
    parser.add_argument("--keep-dir", action="store_true", help="keep the temp dir (configs, logs, ledger)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or not 0 <= args.stream_share <= 1 or args.concurrency_limit < 1 or args.workers < 1:
        parser.error("--seconds must be positive, --stream-share within 0..1, --concurrency-limit and --workers >= 1")
    return args


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends the run as Ctrl-C does: through the finally blocks that stop the subprocesses."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="switchyard-bench-"))
    try:
        result = run(args, workdir)
    except RuntimeError as exc:
        print(f"overhead: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("overhead: interrupted; everything it started is stopped", file=sys.stderr)
        return 130
    finally:
        if args.keep_dir:
            note(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for line in human(result):
        print(line)
    if args.json:
        print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
