"""Quality/cost router: how much of the premium-only bill a router (or a cascade) saves at a target quality.

    python bench/router.py --train CSV [CSV...] --test CSV [CSV...] [--target-quality 0.95]
                           [--policy router|cascade] [--cheap MODEL] [--premium MODEL]
                           [--margin-z Z] [--embedding-cache DIR] [--json]

Trains the product's router (``switchyard.routing``) on the training CSVs -- thresholds calibrated on
held-back folds of the training data only, so that the target holds on a new sample as large as the
training one with probability ~Phi(margin-z) (95% at the default 1.645) -- then routes every test prompt
and counts dollars. ``router`` is the N-model router over the two columns (``NRouter``, N = 2);
``cascade`` the two-model verifier (``RouterModel``, verify mode). CSV layout as RouteLLM's eval files:
``prompt``, one boolean column per model, optional ``<model>_response``.

Cost per prompt: $0.6 / $0.6 (cheap) and $10 / $30 (premium) per 1M input / output tokens; input tokens
by cl100k_base, output tokens from the model's response column when present, else 1. ``router`` pays one
call per prompt; ``cascade`` pays the cheap call on every prompt and the premium call when its verifier
escalates (the verifier reads the cheap model's recorded answer when the training CSVs carry responses;
without them it sees only the prompt).

Prints human lines; with ``--json`` the last line is one JSON object: ``n_test``, ``cost_fraction`` (routed cost /
premium-only cost at the calibrated threshold), ``quality_kept`` (routed correctness / premium-only
correctness), ``premium_call_fraction``, ``apgr`` and ``cpt50`` (RouteLLM's definitions over the test
threshold sweep; cpt50 as a share of premium calls), and ``random_cost_fraction`` /
``oracle_cost_fraction`` (the same cost fraction for a random router and an all-knowing one at the target),
and the fit's own estimate from the training data alone (nested cross-validation): ``held_out_quality_kept``,
``held_out_cost_fraction`` and their 90% bootstrap ``_interval``s. Exits 2 when a CSV is missing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from switchyard.routing import metrics
from switchyard.routing.costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE, Tokenizer, call_cost
from switchyard.routing.data import DEFAULT_CHEAP, DEFAULT_PREMIUM, RouterDataError, read_outcomes
from switchyard.routing.features import LocalEncoder
from switchyard.routing.model import FitOptions, RouterModel
from switchyard.routing.nrouter import NRouter
from switchyard.routing.outcomes import Outcomes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", nargs="+", type=Path, required=True, help="outcome CSVs to train on")
    ap.add_argument("--test", nargs="+", type=Path, required=True, help="outcome CSVs to route")
    ap.add_argument("--target-quality", type=float, default=0.95, help="share of premium quality to keep")
    ap.add_argument("--policy", choices=("router", "cascade"), default="router")
    ap.add_argument("--cheap", default=DEFAULT_CHEAP, help="column of the cheap model")
    ap.add_argument("--premium", default=DEFAULT_PREMIUM, help="column of the premium model")
    ap.add_argument(
        "--margin-z",
        type=float,
        default=FitOptions().margin_z,
        help="fixed calibration margin (std errors; default: a 95%% bootstrap band)",
    )
    ap.add_argument("--embedding-cache", type=Path, default=None, help="keep prompt embeddings in this directory")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON on the last line")
    return ap.parse_args(argv)


def run(args: argparse.Namespace) -> dict[str, Any]:
    train = read_outcomes(args.train, args.cheap, args.premium)
    test = read_outcomes(args.test, args.cheap, args.premium)
    encoder = LocalEncoder(cache_dir=args.embedding_cache)
    options = FitOptions(margin_z=args.margin_z)
    t = args.target_quality
    started = time.perf_counter()
    if args.policy == "cascade":
        model = RouterModel.fit(
            train,
            mode="verify",
            cheap_model=args.cheap,
            premium_model=args.premium,
            encoder=encoder,
            options=options,
            target_quality=t,
        )
        fit_seconds = time.perf_counter() - started
        if model.uses_answers and not test.has_cheap_responses:
            raise RouterDataError("the cascade's verifier reads the cheap answers, but the test CSVs have none")
        answers = [r or "" for r in test.cheap_responses] if model.uses_answers else None
        assessment = model.assess(test.prompts, answers)
        premium = model.choose_premium(assessment, t)
        scores, threshold, estimate = assessment.score, model.threshold(t), model.held_out
    else:  # the N-model router over the two columns (the N = 2 case)
        outcomes = Outcomes.from_table(train, args.cheap, args.premium, BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE)
        router = NRouter.fit(outcomes, target_quality=t, encoder=encoder, options=options)
        fit_seconds = time.perf_counter() - started
        s = router.assess(test.prompts)
        premium = np.array([name == args.premium for name in router.choose_scored(s, t)], dtype=bool)
        # For the threshold sweep: expected loss of the cheap choice per relative saving (the N = 2 rule).
        rel = s.relative_cost
        scores = (s.p[:, 1] - s.p[:, 0]) / np.maximum(rel[:, 1] - rel[:, 0], 1e-6)
        threshold, estimate = router.lam(t), router.held_out

    tok = Tokenizer()
    tokens = tok.count_many(test.prompts)
    cheap_cost = call_cost(tokens, tok.count_outputs(test.cheap_responses), BENCH_CHEAP_PRICE)
    premium_cost = call_cost(tokens, tok.count_outputs(test.premium_responses), BENCH_PREMIUM_PRICE)
    c, p = test.cheap_ok, test.premium_ok
    spent = metrics.routed_cost(premium, cheap_cost, premium_cost, cascade=args.policy == "cascade")
    return {
        "policy": args.policy,
        "target_quality": t,
        "n_train": len(train),
        "n_test": len(test),
        "verifier_reads_answers": model.uses_answers if args.policy == "cascade" else None,
        "threshold": threshold,
        "cost_fraction": metrics.cost_fraction(spent, premium_cost),
        "quality_kept": metrics.quality_kept(premium, c, p),
        "quality": metrics.quality(premium, c, p),
        "cheap_quality": float(c.mean()),
        "premium_quality": float(p.mean()),
        "premium_call_fraction": float(premium.mean()),
        "apgr": metrics.apgr(scores, c, p),
        "cpt50": metrics.cpt(scores, c, p, 0.5),
        "random_cost_fraction": metrics.random_cost_fraction(c, p, cheap_cost, premium_cost, t),
        "oracle_cost_fraction": metrics.oracle_cost_fraction(c, p, cheap_cost, premium_cost, t),
        "held_out_quality_kept": estimate.quality_kept if estimate else None,
        "held_out_quality_kept_interval": list(estimate.quality_kept_interval) if estimate else None,
        "held_out_cost_fraction": estimate.cost_fraction if estimate else None,
        "held_out_cost_fraction_interval": list(estimate.cost_fraction_interval) if estimate else None,
        "fit_seconds": round(fit_seconds, 1),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return None if np.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [str(p) for p in [*args.train, *args.test] if not p.is_file()]
    if missing:
        print(f"skipped: missing CSV {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        r = run(args)
    except RouterDataError as exc:
        print(f"skipped: {exc.message}", file=sys.stderr)
        return 2
    print(f"policy {r['policy']}: trained on {r['n_train']} prompts, routed {r['n_test']}")
    if r["policy"] == "cascade" and not r["verifier_reads_answers"]:
        print("  no cheap answers in the training CSVs: the verifier sees only the prompt (a router that also")
        print("  pays the cheap call on every escalated prompt)")
    print(
        f"  quality kept {r['quality_kept']:.4f} (target {r['target_quality']:.2f}; quality {r['quality']:.4f}, ",
        end="",
    )
    print(f"cheap {r['cheap_quality']:.4f}, premium {r['premium_quality']:.4f})")
    print(f"  cost fraction {r['cost_fraction']:.4f}  premium calls {r['premium_call_fraction']:.3f}")
    print(f"  baselines at the target: random {r['random_cost_fraction']:.4f}, oracle {r['oracle_cost_fraction']:.4f}")
    print(f"  threshold sweep: APGR {r['apgr']:.4f}, CPT(50%) {r['cpt50']:.4f} of calls")
    if r["held_out_quality_kept"] is not None:
        (q_lo, q_hi), (c_lo, c_hi) = r["held_out_quality_kept_interval"], r["held_out_cost_fraction_interval"]
        print(
            f"  fit's own held-out estimate: quality kept {r['held_out_quality_kept']:.4f} [{q_lo:.4f}, {q_hi:.4f}], "
            f"cost fraction {r['held_out_cost_fraction']:.4f} [{c_lo:.4f}, {c_hi:.4f}] (90% intervals)"
        )
    if args.json:
        print(json.dumps({k: _json_safe(v) for k, v in r.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
