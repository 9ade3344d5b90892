"""The router model: fit, predict, calibrate, save and load a versioned artifact."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from switchyard.routing import artifact
from switchyard.routing.calibration import ALWAYS_CHEAP, ALWAYS_PREMIUM, Promise, calibrate, lookup
from switchyard.routing.data import RouterDataError
from switchyard.routing.model import FitOptions, RouterModel

from .conftest import HashEncoder, synthetic_table

FAST = FitOptions(c_grid=(0.3, 1.0), embedding_gains=(1.0,), folds=5)


@pytest.fixture(scope="module")
def fitted() -> RouterModel:
    return RouterModel.fit(synthetic_table(), encoder=HashEncoder(), options=FAST)


def test_predicts_hard_prompts_need_premium(fitted: RouterModel) -> None:
    table = synthetic_table(n=60, seed=1)
    p = fitted.predict(table.prompts)
    hard = np.array([i % 2 == 1 for i in range(60)])
    assert p.shape == (60,)
    assert ((p >= 0) & (p <= 1)).all()
    assert p[~hard].mean() > p[hard].mean() + 0.15
    premium = fitted.choose_premium(fitted.assess(table.prompts), 0.95)
    assert premium[hard].mean() > premium[~hard].mean()


def test_save_load_round_trip(tmp_path: Path, fitted: RouterModel) -> None:
    folder = fitted.save(tmp_path / "router")
    meta = json.loads((folder / artifact.META_FILE).read_text())
    assert meta["format"] == artifact.FORMAT and meta["format_version"] == artifact.FORMAT_VERSION
    assert meta["version"] == folder.name
    assert meta["embedding_model"] == "test/hash-encoder@1"
    assert meta["training"]["data_sha256"] == synthetic_table().digest()
    assert "0.95" in meta["thresholds"]
    loaded = RouterModel.load(tmp_path / "router", encoder=HashEncoder())
    prompts = synthetic_table(n=20, seed=2).prompts
    np.testing.assert_allclose(loaded.predict(prompts), fitted.predict(prompts))
    assert loaded.threshold(0.95) == fitted.threshold(0.95)
    np.testing.assert_allclose(loaded.assess(prompts).score, fitted.assess(prompts).score)


def test_versions_and_current(tmp_path: Path, fitted: RouterModel) -> None:
    root = tmp_path / "router"
    first = fitted.save(root)
    second = fitted.save(root)
    assert artifact.versions(root) == sorted([first.name, second.name])
    assert (root / artifact.CURRENT_FILE).read_text().strip() == second.name
    assert artifact.resolve(root) == second
    assert RouterModel.load(first, encoder=HashEncoder()).meta["version"] == first.name
    with pytest.raises(RouterDataError, match="no router artifact"):
        RouterModel.load(tmp_path / "empty", encoder=HashEncoder())


def test_load_refuses_another_embedding_model(tmp_path: Path, fitted: RouterModel) -> None:
    fitted.save(tmp_path / "r")
    with pytest.raises(RouterDataError, match="embedding model"):
        RouterModel.load(tmp_path / "r", encoder=HashEncoder("other/model@2"))


def test_load_refuses_unknown_format(tmp_path: Path, fitted: RouterModel) -> None:
    folder = fitted.save(tmp_path / "r")
    meta = json.loads((folder / artifact.META_FILE).read_text())
    (folder / artifact.META_FILE).write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(RouterDataError, match="format version"):
        RouterModel.load(tmp_path / "r", encoder=HashEncoder())


def test_thresholds_fall_as_the_target_rises(fitted: RouterModel) -> None:
    table = fitted.thresholds
    targets = sorted(table)
    values = [table[t] for t in targets]
    assert all(a >= b for a, b in itertools.pairwise(values))
    prompts = synthetic_table(n=80, seed=3).prompts
    a = fitted.assess(prompts)
    shares = [fitted.choose_premium(a, t).mean() for t in (0.8, 0.9, 0.95, 1.0)]
    assert shares == sorted(shares)


def test_calibration_margin_and_monotonicity() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    scores = rng.normal(size=n)
    premium_only = rng.random(n) < 1 / (1 + np.exp(-2 * scores))  # higher score, more often premium-only
    c = ~premium_only & (rng.random(n) < 0.8)
    p = premium_only | (rng.random(n) < 0.8)
    targets = tuple(round(0.8 + 0.01 * i, 2) for i in range(21))
    plain = calibrate(scores, c, p, targets, Promise(margin_z=0.0))
    fixed = calibrate(scores, c, p, targets, Promise(margin_z=2.0))
    band = calibrate(scores, c, p, targets)
    for table in (plain, fixed, band):
        values = [table[t] for t in targets]
        assert all(a >= b for a, b in itertools.pairwise(values))
    for t in targets:
        assert fixed[t] <= plain[t] and band[t] <= plain[t]  # a margin only ever sends more to premium
        premium = scores > plain[t]
        kept = np.where(premium, p, c).sum() / p.sum()
        assert kept >= t - 1e-9


def test_calibration_edges() -> None:
    scores = np.array([0.5, 0.2, 0.1])
    always_right = np.array([True, True, True])
    assert calibrate(scores, always_right, always_right, (0.95,))[0.95] == ALWAYS_CHEAP
    cheap_wrong = np.array([False, False, False])
    assert calibrate(scores, cheap_wrong, always_right, (0.95,))[0.95] == ALWAYS_PREMIUM
    table = {0.9: 0.3, 0.95: 0.2, 1.0: 0.1}
    assert lookup(table, 0.95) == 0.2
    assert lookup(table, 0.93) == 0.2  # the next stricter target, never a weaker one
    assert lookup(table, 1.01) == ALWAYS_PREMIUM


def test_fit_refuses_tiny_tables() -> None:
    with pytest.raises(RouterDataError, match="too few"):
        RouterModel.fit(synthetic_table(n=6), encoder=HashEncoder(), options=FAST)


def test_verify_mode_reads_answers() -> None:
    table = synthetic_table(answers=True)
    model = RouterModel.fit(table, mode="verify", encoder=HashEncoder(), options=FAST)
    assert model.uses_answers and model.meta["features"]["answer"]
    prompts = table.prompts[:40]
    good = ["6 * 7 = <<6*7=42>>42\n#### 42"] * 40
    bad = ["maybe 6 * 7 = <<6*7=40>>40, however unclear"] * 40
    assert model.predict(prompts, good).mean() > model.predict(prompts, bad).mean() + 0.3
    with pytest.raises(RouterDataError, match="answers"):
        model.assess(prompts)


def test_route_mode_predicts_output_lengths_from_responses() -> None:
    model = RouterModel.fit(synthetic_table(answers=True), encoder=HashEncoder(), options=FAST)
    means = model.meta["training"]["means"]
    assert means["premium_output_tokens"] > 5  # learned from the premium response column
    no_answers = RouterModel.fit(synthetic_table(), encoder=HashEncoder(), options=FAST)
    assert no_answers.meta["training"]["means"]["premium_output_tokens"] == pytest.approx(1.0)
