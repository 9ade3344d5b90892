"""The sensitivity detector on crafted inputs: is its cost linear in the text?

    python bench/adversarial.py [--sizes 64K,1M,4M] [--family NAME ...] [--detectors] [--json]
    python bench/adversarial.py --path [--sizes 64K,1M,4M] [--family NAME ...] [--json]

``--path`` sends crafted requests through a running gateway instead, while a light stream of ordinary
requests measures whether the others are still served (see ``bench/adversarial_path.py``).

Each family is a text built to make a backtracking pattern or a rescanning loop work hard (a long run a
pattern fails at the end of, tried at every start; many spans checked against all earlier ones). For
every family and size the whole ``SensitivityDetector.scan`` is timed (CPU time, ``time.process_time``),
with the gateway's scan-size limit lifted so the detectors themselves are measured; ``--detectors``
also times each detector alone. Per family it prints the worst ms per KB over the sizes and the growth
at 4x the input: the time ratio between the two largest sizes scaled to a 4x step (about 4 when the
cost is linear, 16 when it is quadratic). The last line with ``--json`` is one object:
``{"sizes": [...], "families": {name: {"worst_ms_per_kb", "growth_4x", "ms": {size: ms}}}, "worst_ms_per_kb",
"worst_growth_4x"}``. Timings are printed, never judged.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from switchyard.sensitivity import SensitivityDetector


def repeat(unit: str, size: int, head: str = "", tail: str = "") -> str:
    """``head``, then ``unit`` repeated to about ``size`` characters, then ``tail``."""
    return head + unit * max(1, (size - len(head) - len(tail)) // len(unit)) + tail


# name -> text of about ``size`` characters. Each names what it attacks.
FAMILIES: dict[str, Callable[[int], str]] = {
    # secrets: URL_CREDENTIALS tried at every scheme-like start before one "://"
    "url_scheme_dots": lambda n: repeat("a.", n, tail="://"),
    "url_scheme_run": lambda n: repeat("a", n, tail="://x"),
    "url_userinfo": lambda n: repeat("a.", n // 2, tail="://b:") + "c" * (n // 2),
    "url_many": lambda n: repeat("a.b://c:d ", n),
    "private_key_words": lambda n: repeat("A ", n, head="-----BEGIN PRIVATE KEY-----\n-----END "),
    "api_key_run": lambda n: repeat("a", n, head="sk-", tail="\u00e9"),
    "bearer_spaces": lambda n: repeat(" ", n, head="bearer", tail="!"),
    "assigned_spaces": lambda n: repeat(" ", n, head="password", tail="!"),
    # financial: two \s* around optional parts after a cue word (the text needs a digit to be read)
    "account_spaces": lambda n: repeat(" ", n, head="account", tail="x1"),
    "routing_spaces": lambda n: repeat(" ", n, head="routing", tail="x1"),
    "sort_code_spaces": lambda n: repeat(" ", n, head="sort code", tail="x1"),
    "swift_spaces": lambda n: repeat(" ", n, head="swift", tail="x"),
    "cards": lambda n: repeat("4111 1111 1111 1111 ", n),
    "digit_groups": lambda n: repeat("12 ", n),
    # contact: phone groups checked against every earlier phone span
    "phones": lambda n: repeat("call +1 555 555 1234, 555 555 1234 ", n),
    "email_domain": lambda n: repeat("b.", n, head="a%a%a%a@", tail="1"),
    "emails": lambda n: repeat("jo@example.com ", n),
    "ipv6_colons": lambda n: repeat("1:", n),
    # dates and identifiers: month/day pairs checked against every earlier date
    "month_days": lambda n: repeat("2/13 ", n),
    "dates_mixed": lambda n: repeat("2001-02-13 2/13 Feb 3 ", n),
    "dob_spaces": lambda n: repeat(" ", n, head="dob 1", tail="x"),
    "id_spaces": lambda n: repeat(" ", n, head="tin", tail="x1"),
    "nhs": lambda n: repeat("943 476 5919 ", n),
    # addresses: each street grows by searching for the next comma to the end of the text
    "streets": lambda n: repeat("24 Clarke Avenue ", n),
    "streets_numbered": lambda n: repeat("24 Clarke Avenue 6750 Koskikatu 25 Paris ", n),
    "fused_streets": lambda n: repeat("Pohlstrasse 9 ", n),
    "separators": lambda n: repeat(", ", n, head="24 Clarke Avenue"),
    # places: the sentence before each "in <Place>" read again from its start
    "places_one_sentence": lambda n: repeat("I lived in Paris and ", n),
    "facilities": lambda n: repeat("Mercy Hospital ", n),
    # names: the line start looked up from every word
    "names_one_line": lambda n: repeat("Mr Smith met John Garcia and ", n),
    "capitalised_words": lambda n: repeat("Aa ", n),
    "caseless_names": lambda n: repeat("john smith ", n),
    "name_then_spaces": lambda n: repeat(" ", n, head="Dr. Szollosy", tail="!"),
    # plain runs
    "spaces": lambda n: " " * n,
    "newlines": lambda n: "\n" * n,
    "letters": lambda n: "a" * n,
}

SIZES = {"K": 1024, "M": 1024 * 1024}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    if text and text[-1] in SIZES:
        return int(float(text[:-1]) * SIZES[text[-1]])
    return int(text)


def cpu_ms(fn: Callable[[], object]) -> float:
    """CPU milliseconds of one call (small inputs: the best of a few)."""
    best = math.inf
    spent = 0.0
    while spent < 0.2 or best == math.inf:
        t0 = time.process_time()
        fn()
        elapsed = time.process_time() - t0
        best, spent = min(best, elapsed), spent + elapsed
        if elapsed > 0.05:
            break
    return best * 1000


def growth_4x(sizes: list[int], ms: list[float]) -> float | None:
    """The time ratio between the two largest sizes, scaled to a 4x step of the input."""
    if len(sizes) < 2 or ms[-2] <= 0 or ms[-1] <= 0:
        return None
    exponent = math.log(ms[-1] / ms[-2]) / math.log(sizes[-1] / sizes[-2])
    return float(4**exponent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="64K,1M,4M", help="comma-separated text sizes (K, M suffixes)")
    parser.add_argument("--family", action="append", choices=sorted(FAMILIES), help="only these families")
    parser.add_argument("--detectors", action="store_true", help="also time each detector alone")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object, last")
    parser.add_argument("--path", action="store_true", help="through a running gateway, with a light stream")
    parser.add_argument("--request-family", action="append", help="--path: only these request-level families")
    parser.add_argument("--light-interval", type=float, default=0.02, help="--path: seconds between light requests")
    args = parser.parse_args(argv)
    sizes = sorted(parse_size(s) for s in args.sizes.split(","))
    if args.path:
        return run_path(args, sizes)
    detector = SensitivityDetector(max_scan_chars=None)
    detector.warm()
    result: dict[str, Any] = {"sizes": sizes, "families": {}}
    for name in args.family or FAMILIES:
        ms: list[float] = []
        per_detector: dict[str, list[float]] = {d.name: [] for d in detector.detectors}
        for size in sizes:
            text = FAMILIES[name](size)
            ms.append(cpu_ms(partial(detector.scan, [text])))
            if args.detectors:
                for d in detector.detectors:
                    per_detector[d.name].append(cpu_ms(partial(d.detect, text)))
        worst = max(m / (s / 1024) for m, s in zip(ms, sizes, strict=True))
        growth = growth_4x(sizes, ms)
        shown = "n/a" if growth is None else f"{growth:.1f}"
        cells = "  ".join(f"{s // 1024}K={m:.0f}ms" for s, m in zip(sizes, ms, strict=True))
        print(f"{name:<22} worst {worst:7.3f} ms/KB  growth at 4x {shown:>5}  {cells}")
        entry: dict[str, Any] = {"worst_ms_per_kb": worst, "growth_4x": growth, "ms": dict(zip(sizes, ms, strict=True))}
        if args.detectors:
            entry["detectors"] = {}
            for d_name, d_ms in per_detector.items():
                d_growth = growth_4x(sizes, d_ms)
                entry["detectors"][d_name] = {"growth_4x": d_growth, "ms": d_ms}
                shown = "n/a" if d_growth is None else f"{d_growth:.1f}"
                print(f"    {d_name:<18} growth at 4x {shown:>5}  " + "  ".join(f"{m:.1f}ms" for m in d_ms))
        result["families"][name] = entry
    families = result["families"].values()
    result["worst_ms_per_kb"] = max(f["worst_ms_per_kb"] for f in families)
    growths = [f["growth_4x"] for f in families if f["growth_4x"] is not None]
    result["worst_growth_4x"] = max(growths) if growths else None
    if args.json:
        print(json.dumps(result))
    return 0


def run_path(args: argparse.Namespace, sizes: list[int]) -> int:
    from adversarial_path import request_families, run

    text = {name: FAMILIES[name] for name in (args.family or FAMILIES)}
    families = request_families(text)
    if args.family or args.request_family:  # only what was asked for
        keep = set(args.family or ()) | set(args.request_family or ())
        families = {k: v for k, v in families.items() if k in keep}
    result = run(sizes, families, args.light_interval, print)
    print(
        f"worst {result['worst_ms_per_kb']:.3f} ms/KB; light stream p99 worst "
        f"{result['worst_light_p99_ms']} ms (overall {result['light_p99_ms_overall']}, before the crafted requests "
        f"{result['baseline_light_p99_ms']}); {result['light_errors']} light errors; {result['status_5xx']} crafted 5xx"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
