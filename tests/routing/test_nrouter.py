"""The router over N candidates: fit on three synthetic candidates with a known ground truth, route to the
cheapest predicted-good one, save and load a format-2 artifact, and keep the quality promise out of sample."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from switchyard.routing import artifact
from switchyard.routing.calibration import Promise, calibrate_path, last_before_failure
from switchyard.routing.choice import ALWAYS_BEST, ALWAYS_CHEAPEST, route
from switchyard.routing.data import RouterDataError
from switchyard.routing.model import FitOptions, RouterModel
from switchyard.routing.nrouter import NRouter, fit_from_results, load_router
from switchyard.routing.outcomes import Outcomes
from switchyard.routing.training import fit_price

from .conftest import THREE, THREE_PRICES, TRUTH, HashEncoder, difficulty, synthetic_results, synthetic_table

FAST = FitOptions(c_grid=(0.3, 1.0), embedding_gains=(1.0,), folds=5)
TARGET = 0.9


@pytest.fixture(scope="module")
def router() -> NRouter:
    prompts, correct, costs, tokens = synthetic_results(300)
    return fit_from_results(prompts, correct, costs, TARGET, output_tokens=tokens, encoder=HashEncoder(), options=FAST)


def by_level(router: NRouter, n: int = 90, seed: int = 5) -> dict[str, Counter[str]]:
    prompts = synthetic_results(n, seed)[0]
    chosen = router.choose(list(prompts.values()))
    out: dict[str, Counter[str]] = {"easy": Counter(), "middling": Counter(), "hard": Counter()}
    for i, name in enumerate(chosen):
        out[difficulty(i)][name] += 1
    return out


def test_routes_each_prompt_to_the_cheapest_candidate_predicted_good(router: NRouter) -> None:
    assert router.names == THREE and router.reference == "large" and router.target_quality == TARGET
    levels = by_level(router)
    assert levels["easy"].most_common(1)[0][0] == "small", levels
    assert levels["middling"].most_common(1)[0][0] == "medium", levels
    assert levels["hard"].most_common(1)[0][0] == "large", levels
    # predictions follow the ground truth's order
    prompts = list(synthetic_results(60, 6)[0].values())
    s = router.assess(prompts)
    hard = np.array([difficulty(i) == "hard" for i in range(60)])
    assert s.p[hard, 2].mean() > s.p[hard, 1].mean() + 0.3 > s.p[hard, 0].mean() + 0.3
    assert (s.cost[:, 0] < s.cost[:, 1]).all() and (s.cost[:, 1] < s.cost[:, 2]).all()


def test_stricter_targets_spend_more(router: NRouter) -> None:
    prompts = list(synthetic_results(90, 7)[0].values())
    s = router.assess(prompts)
    lambdas = [router.lam(t) for t in (0.8, 0.9, 0.95, 1.0)]
    assert lambdas == sorted(lambdas, reverse=True)
    spend = [s.cost[np.arange(90), [THREE.index(c) for c in router.choose_scored(s, t)]].sum() for t in (0.8, 0.9, 1.0)]
    assert spend == sorted(spend)
    assert router.lam(1.5) == ALWAYS_BEST  # above every tabulated target: the reference only


def test_held_out_estimate_is_made_and_stored(router: NRouter) -> None:
    h = router.held_out
    assert h is not None and h.target == TARGET and h.prompts == 300 and h.folds == 5
    assert h.quality_kept_interval[0] <= h.quality_kept <= h.quality_kept_interval[1]
    assert h.cost_fraction_interval[0] <= h.cost_fraction <= h.cost_fraction_interval[1] < 1.0
    assert set(h.choices) == set(THREE) and sum(h.choices.values()) == pytest.approx(1.0)
    assert "quality kept" in h.summary() and "cost fraction" in h.summary()


def test_among_restricts_the_choice(router: NRouter) -> None:
    prompts = list(synthetic_results(30, 8)[0].values())
    assert set(router.choose(prompts, among=["small", "medium"])) <= {"small", "medium"}
    pick = router.explain(prompts[2], among=["small", "medium", "not-a-candidate"])  # a hard prompt
    assert pick.order[0] == pick.choice and set(pick.order) == {"small", "medium"}
    assert pick.utility[pick.order[0]] >= pick.utility[pick.order[1]]
    with pytest.raises(RouterDataError, match="none of"):
        router.choose(prompts, among=["gone"])


def test_route_prices_replace_the_artifacts(router: NRouter) -> None:
    from switchyard.routing.costs import TokenPrice

    prompt = synthetic_results(3, 9)[0]["q9-0"]
    base = router.explain(prompt)
    free_large = router.explain(prompt, prices={"large": TokenPrice(0.0, 0.0)})
    assert free_large.cost["large"] == 0.0 and free_large.choice == "large"
    assert base.cost["large"] > 0


def test_save_load_round_trip(tmp_path: Path, router: NRouter) -> None:
    folder = router.save(tmp_path / "r")
    meta = json.loads((folder / artifact.META_FILE).read_text())
    assert meta["format_version"] == artifact.NROUTER_FORMAT_VERSION and meta["kind"] == "n-model"
    assert [c["name"] for c in meta["candidates"]] == list(THREE) and meta["held_out"]["prompts"] == 300
    loaded = load_router(tmp_path / "r", encoder=HashEncoder())
    assert isinstance(loaded, NRouter)
    prompts = list(synthetic_results(20, 10)[0].values())
    np.testing.assert_allclose(loaded.assess(prompts).p, router.assess(prompts).p)
    assert loaded.choose(prompts) == router.choose(prompts)
    with pytest.raises(RouterDataError, match="embedding model"):
        NRouter.load(tmp_path / "r", encoder=HashEncoder("other/model@2"))
    with pytest.raises(RouterDataError, match="format version 1"):
        RouterModel.load(tmp_path / "r", encoder=HashEncoder())


def test_two_model_artifacts_still_load(tmp_path: Path) -> None:
    old = RouterModel.fit(synthetic_table(n=80), encoder=HashEncoder(), options=FAST)
    old.save(tmp_path / "old")
    assert isinstance(load_router(tmp_path / "old", encoder=HashEncoder()), RouterModel)


def test_outcomes_from_results_keep_complete_items() -> None:
    prompts = {"a": "x", "b": "y", "c": "z"}
    correct = {"m1": {"a": 1.0, "b": 0.5, "c": 0.0}, "m2": {"a": 1.0, "c": 1.0}}
    o = Outcomes.from_results(prompts, correct, {"m1": 0.001, "m2": {"a": 0.01, "b": 0.01}})
    assert o.ids == ["a"] and o.dropped == 2 and o.costs.tolist() == [[0.001, 0.01]]
    with pytest.raises(RouterDataError, match="no costs"):
        Outcomes.from_results(prompts, correct, {"m1": 0.001})
    with pytest.raises(RouterDataError, match=r"\[0, 1\]"):
        Outcomes.from_results({"a": "x"}, {"m1": {"a": 2.0}, "m2": {"a": 1.0}}, {"m1": 1.0, "m2": 1.0})
    with pytest.raises(RouterDataError, match="two candidates"):
        Outcomes.from_results({"a": "x"}, {"m1": {"a": 1.0}}, {"m1": 1.0})


def test_soft_scores_and_mean_costs_fit() -> None:
    prompts, correct, _, _ = synthetic_results(120, 3)
    soft = {m: {i: 0.5 * v + 0.25 for i, v in scores.items()} for m, scores in correct.items()}
    mean_cost = {m: THREE_PRICES[m][0] * 1e-5 for m in THREE}
    r = fit_from_results(prompts, soft, mean_cost, encoder=HashEncoder(), options=FAST)
    assert r.meta["candidates"][0]["price_source"] == "fitted"
    assert not r.meta["candidates"][0]["output_tokens_known"]
    costs = r.assess(["apple pear ?"]).cost[0]
    np.testing.assert_allclose(costs, [mean_cost[m] for m in THREE], rtol=1e-3)


def test_fitted_prices_reproduce_linear_billing() -> None:
    tokens = np.array([100.0, 250.0, 40.0, 900.0])
    out = np.array([10.0, 3.0, 50.0, 7.0])
    price = fit_price(tokens, out, (tokens * 1.5 + out * 6.0) / 1e6)
    assert price.input == pytest.approx(1.5) and price.output == pytest.approx(6.0)


def test_route_rule() -> None:
    p = np.array([[0.9, 0.8, 0.5], [0.2, 0.9, 0.95]])
    rel = np.array([[1.0, 0.3, 0.01], [1.0, 0.3, 0.01]])
    assert route(p, rel, ALWAYS_BEST, 0).tolist() == [0, 0]
    assert route(p, rel, ALWAYS_BEST, 0, allowed=[1, 2]).tolist() == [1, 2]  # the most likely right
    assert route(p, rel, 0.0, 0).tolist() == [0, 2]
    assert route(p, rel, ALWAYS_CHEAPEST, 0).tolist() == [2, 2]
    assert route(p, rel, 0.2, 0).tolist() == [1, 2]  # 0.9-0.2, 0.8-0.06, 0.5-0.002
    assert route(np.array([[0.5, 0.5]]), np.array([[1.0, 0.1]]), 0.0, 0).tolist() == [1]  # a tie: the cheaper


def test_bound_needs_a_margin_and_stops_at_the_first_failure() -> None:
    best = np.ones(400)
    routed = np.ones((3, 400))
    routed[1, :13] = 0  # kept 0.9675: above 0.95, but not by 1.645 standard errors of train and test together
    routed[2, :10] = 0
    assert calibrate_path(routed, best, (0.95,), Promise(margin_z=0.0)) == {0.95: 2}
    assert calibrate_path(routed, best, (0.95,), Promise(margin_z=1.645)) == {0.95: 0}  # the later pass does not count
    assert calibrate_path(routed, best, (0.95,), Promise(margin_z=1.645, holdout=math.inf)) == {0.95: 2}
    assert calibrate_path(routed[[0, 2]], best, (0.95,)) == {0.95: 1}  # the band: 10 misses in 400 are enough
    assert calibrate_path(routed, best, (0.9, 0.95, 0.99, 1.0)) == {0.9: 2, 0.95: 0, 0.99: 0, 1.0: 0}
    assert last_before_failure(np.array([True, False, True])) == 0
    assert last_before_failure(np.array([True, True, True])) == 2


def test_the_band_widens_with_the_path() -> None:
    """A path of many settings that all sit just above the target: the plain bound walks to the end,
    the band (which pays for having looked at every setting) stops earlier."""
    rng = np.random.default_rng(3)
    best = (rng.random(600) < 0.9).astype(float)
    routed = np.array([np.where(rng.random(600) < 0.03 * i / 40, 1.0 - best, best) for i in range(40)])
    plain = calibrate_path(routed, best, (0.95,), Promise(margin_z=1.645))[0.95]
    band = calibrate_path(routed, best, (0.95,))[0.95]
    assert band < plain


def test_fit_refuses_too_few_prompts() -> None:
    prompts, correct, costs, _ = synthetic_results(12)
    with pytest.raises(RouterDataError, match="too few"):
        fit_from_results(prompts, correct, costs, encoder=HashEncoder(), options=FAST)


def test_promise_holds_out_of_sample_in_19_of_20_splits() -> None:
    """Known ground truth: train on half of a fresh sample, route the other half. The calibration promises
    that the quality kept on a new sample as large as the training one reaches the target ~95% of the
    time; checked both on the test half's outcomes and in expectation under the true probabilities."""
    quick = FitOptions(c_grid=(1.0,), embedding_gains=(1.0,), folds=5, nested_folds=0)
    realised, expected = [], []
    truth = np.array([TRUTH[difficulty(i)] for i in range(600)])
    for split in range(20):
        prompts, correct, costs, tokens = synthetic_results(600, seed=100 + split)
        ids = list(prompts)
        order = np.random.default_rng(split).permutation(600)
        train, test = order[:300], order[300:]
        r = fit_from_results(
            {ids[i]: prompts[ids[i]] for i in train},
            correct,
            costs,
            TARGET,
            output_tokens=tokens,
            encoder=HashEncoder(),
            options=quick,
        )
        picks = [THREE.index(c) for c in r.choose([prompts[ids[i]] for i in test])]
        got = np.array([correct[THREE[j]][ids[i]] for i, j in zip(test, picks, strict=True)])
        best = np.array([correct["large"][ids[i]] for i in test])
        realised.append(got.sum() / best.sum())
        expected.append(truth[test, picks].sum() / truth[test, 2].sum())
    assert sum(q >= TARGET for q in realised) >= 19, realised
    assert sum(q >= TARGET for q in expected) >= 19, expected
    assert np.mean(expected) < 0.99  # and not by always calling the reference
