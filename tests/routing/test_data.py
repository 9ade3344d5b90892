"""Outcome tables and per-prompt costs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from switchyard.routing.costs import BENCH_CHEAP_PRICE, BENCH_PREMIUM_PRICE, Tokenizer, call_cost
from switchyard.routing.data import (
    DEFAULT_CHEAP,
    DEFAULT_PREMIUM,
    OutcomeTable,
    RouterDataError,
    hash_fraction,
    read_outcomes,
)


def _write(path: Path, rows: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path


def test_read_outcomes(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.csv",
        [
            {"prompt": "p1", DEFAULT_CHEAP: "True", DEFAULT_PREMIUM: "False", f"{DEFAULT_CHEAP}_response": "r1"},
            {"prompt": "p2", DEFAULT_CHEAP: "0", DEFAULT_PREMIUM: "1", f"{DEFAULT_CHEAP}_response": "r2"},
            {"prompt": "p3", DEFAULT_CHEAP: "", DEFAULT_PREMIUM: "1", f"{DEFAULT_CHEAP}_response": ""},
        ],
    )
    b = _write(tmp_path / "b.csv", [{"prompt": "p4", DEFAULT_CHEAP: "false", DEFAULT_PREMIUM: "true"}])
    table = read_outcomes([a, b])
    assert table.prompts == ["p1", "p2", "p4"]  # the row without an outcome is skipped
    assert table.cheap_ok.tolist() == [True, False, False]
    assert table.premium_ok.tolist() == [False, True, True]
    assert table.cheap_responses == ["r1", "r2", None]
    assert not table.has_cheap_responses and read_outcomes([a]).has_cheap_responses
    assert table.digest() != read_outcomes([a]).digest()
    assert table.subset([2]).prompts == ["p4"]


def test_read_outcomes_errors(tmp_path: Path) -> None:
    bad = _write(tmp_path / "bad.csv", [{"prompt": "p", DEFAULT_CHEAP: "maybe", DEFAULT_PREMIUM: "1"}])
    with pytest.raises(RouterDataError, match="not a boolean"):
        read_outcomes([bad])
    with pytest.raises(RouterDataError, match="missing column"):
        read_outcomes([bad], premium="gpt-5")


def test_hash_split_is_stable() -> None:
    assert hash_fraction("abc") == hash_fraction("abc")
    assert 0 <= hash_fraction("abc", "salt") < 1 and hash_fraction("abc", "salt") != hash_fraction("abc")


def test_costs() -> None:
    tok = Tokenizer()
    assert tok.count("hello world") == 2
    assert tok.count_outputs([None, "", "hello world"]).tolist() == [1, 1, 2]
    cost = call_cost(np.array([1_000_000.0]), np.array([1_000_000.0]), BENCH_PREMIUM_PRICE)
    assert cost.tolist() == [40.0]
    assert call_cost(np.array([10.0]), np.array([1.0]), BENCH_CHEAP_PRICE)[0] == pytest.approx(6.6e-6)


def test_table_from_sequences() -> None:
    table = OutcomeTable.of(["a", "b"], [True, False], [True, True])
    assert table.cheap_ok.dtype == bool and table.cheap_responses == [None, None]
    assert not table.has_cheap_responses
