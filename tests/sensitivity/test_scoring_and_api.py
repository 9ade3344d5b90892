from __future__ import annotations

import pytest

import switchyard.sensitivity as sensitivity
from switchyard.sensitivity.scoring import Tally, coverage, f_beta


def test_public_names_are_exported() -> None:
    for name in sensitivity.__all__:
        assert hasattr(sensitivity, name), name
    public = {n for n in dir(sensitivity) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(sensitivity.__all__)


def test_coverage_and_f2() -> None:
    assert coverage((0, 10), [(0, 5)]) == 0.5
    assert coverage((0, 10), [(0, 3), (2, 6)]) == 0.6
    assert f_beta(1.0, 1.0) == 1.0
    assert f_beta(0.5, 1.0) == pytest.approx(5 * 0.5 / (4 * 0.5 + 1))


def test_tally() -> None:
    tally = Tally()
    tally.add(100, gold=[(0, 10), (20, 30)], predicted=[(0, 6), (50, 60)], seconds=0.001)
    tally.add(50, gold=[], predicted=[(1, 2)])
    tally.add(50, gold=[], predicted=[])
    m = tally.metrics()
    assert m["docs"] == 3
    assert m["span_recall"] == 0.5 and m["span_precision"] == pytest.approx(1 / 3)
    assert m["doc_recall"] == 1.0 and m["doc_precision"] == 0.5 and m["fp_rate"] == 0.5
