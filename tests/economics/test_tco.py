"""The seed figures of the economics issue, reproduced exactly, and the TCO comparison around them."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from switchyard.cli import app
from switchyard.economics.catalog import GPUS, Throughput, build_catalog, load_measured
from switchyard.economics.tco import (
    HOURS_PER_MONTH,
    ApiPrice,
    OwnedGpu,
    Workload,
    break_even_months,
    break_even_utilisation,
    compare,
    deflated,
    gpu_need,
    token_cost,
)
from switchyard.economics.workload import measure_workload
from switchyard.pricing import blended_price
from switchyard.store.sqlite import SQLiteStore
from tests.store.test_sqlite import record

runner = CliRunner(env={"COLUMNS": "200"})
MEASURED = Path(__file__).resolve().parents[3] / "shared" / "data" / "throughput" / "h200_dense_bf16.json"


# --- the seeds ------------------------------------------------------------------------------------
def test_seed_h100_buy_vs_rent_breaks_even_after_13_4_months() -> None:
    assert round(break_even_months(OwnedGpu(27_500), 2.85), 1) == 13.4


def test_seed_a100_buy_vs_rent_breaks_even_after_10_2_months() -> None:
    assert round(break_even_months(OwnedGpu(12_000), 1.64), 1) == 10.2


def test_seed_premium_vs_open_at_300m_tokens_a_month() -> None:
    w = Workload(300e6)
    premium, open_api = ApiPrice("premium", 6.03, 6.03), ApiPrice("open", 0.83, 0.83)
    assert round(premium.monthly(w), 2) == 1809.00
    assert round(open_api.monthly(w), 2) == 249.00
    assert round(open_api.monthly(w) / premium.monthly(w) - 1, 2) == -0.86


def test_seed_deepseek_v3_2_blended_price() -> None:
    assert round(blended_price(0.28, 0.42), 3) == 0.308
    assert round(ApiPrice.parse("deepseek", "0.28/0.42").blended(), 3) == 0.308


def test_seed_80m_input_tokens_a_day_at_15_dollars() -> None:
    assert round(token_cost(80e6, 15.0), 2) == 1200.00


# --- the model around them ------------------------------------------------------------------------
def test_the_month_is_720_hours_which_the_two_seeds_need() -> None:
    # 730 h (a twelfth of a year) would give 13.2 and 10.0 months instead.
    assert HOURS_PER_MONTH == 720
    assert round(27_500 / (2.85 * 730), 1) != 13.4


def test_power_and_operations_delay_the_break_even() -> None:
    bare = break_even_months(OwnedGpu(27_500), 2.85)
    powered = OwnedGpu(27_500, watts=700, usd_per_kwh=0.15, ops_usd_per_month=200)
    assert powered.power_per_month == pytest.approx(0.7 * 720 * 0.15)
    assert break_even_months(powered, 2.85) == pytest.approx(27_500 / (2.85 * 720 - 75.6 - 200))
    assert break_even_months(powered, 2.85) > bare
    # At low utilisation renting never loses to an owned GPU's running costs.
    assert math.isinf(break_even_months(powered, 2.85, utilisation=0.1))


def test_break_even_utilisation_over_the_amortisation_period() -> None:
    owned = OwnedGpu(27_500, amortisation_months=36)
    u = break_even_utilisation(owned, 2.85)
    assert u == pytest.approx((27_500 / 36) / (2.85 * 720))
    # At that utilisation the on-demand rent of the busy hours equals the owned GPU's monthly cost.
    assert 2.85 * 720 * u == pytest.approx(owned.monthly)


def test_deflation_ten_times_a_year() -> None:
    assert deflated(6.03, 12, 10) == pytest.approx(0.603)
    assert deflated(6.03, 6, 10) == pytest.approx(6.03 / math.sqrt(10))
    assert deflated(6.03, 0, 10) == 6.03


def test_gpu_count_follows_the_peak_or_the_volume() -> None:
    tps = Throughput("x", "8b", decode_tps=1000, prefill_tps=10_000, source="test")
    # 1,000 tokens a request: 800 in (0.08 s) + 200 out (0.2 s) = 0.28 GPU-seconds.
    need = gpu_need(Workload(1e6, peak_rps=50, tokens_per_request=1000), tps)
    assert need.gpu_seconds_per_request == pytest.approx(0.28)
    assert need.for_peak == 14 and need.gpus == 14
    big = gpu_need(Workload(10e9, peak_rps=1), tps)  # 10B tokens: 8e9/1e4 + 2e9/1e3 s = 2,800,000 s
    assert big.gpu_hours_per_month == pytest.approx(2_800_000 / 3600)
    assert big.for_volume == math.ceil(2_800_000 / 3600 / 720) == big.gpus
    assert 0 < big.utilisation <= 1


def test_compare_lists_every_option_and_projects_token_prices_only() -> None:
    tps = Throughput("h100", "8b", decode_tps=4000, prefill_tps=40_000, source="test")
    r = compare(
        Workload(300e6, peak_rps=2),
        premium=ApiPrice("premium API", 6.03, 6.03),
        open_api=ApiPrice("open-weight API", 0.83, 0.83),
        gpu="h100",
        throughput=tps,
        rent_usd_per_hour=2.85,
        owned=OwnedGpu(27_500),
        annual_deflation=10,
    )
    assert [o.option for o in r.options] == [
        "premium API",
        "open-weight API",
        "rented GPUs (on demand)",
        "rented GPUs (reserved)",
        "owned GPUs",
    ]
    assert r.option("premium API").monthly_usd == pytest.approx(1809)
    assert r.option("rented GPUs (reserved)").monthly_usd == pytest.approx(2.85 * 720)
    assert r.option("owned GPUs").monthly_usd == pytest.approx(27_500 / 36)
    assert r.break_even_months_continuous == pytest.approx(27_500 / (2.85 * 720))
    year = next(p for p in r.projection if p.month == 12)
    assert year.costs["premium API"] == pytest.approx(180.9)
    assert year.costs["owned GPUs"] == pytest.approx(27_500 / 36)


# --- the catalog ----------------------------------------------------------------------------------
def test_catalog_carries_sources_and_derives_other_gpus_by_bandwidth_and_flops() -> None:
    catalog = build_catalog()
    for spec in GPUS.values():
        assert spec.source
    h200, h100 = catalog.tps("h200", "8b"), catalog.tps("h100", "8b")
    assert h200.source and h100.source.startswith("derived")
    assert h100.decode_tps == pytest.approx(h200.decode_tps * 3.35 / 4.8, abs=0.1)
    assert h100.prefill_tps == pytest.approx(h200.prefill_tps, abs=0.1)  # same dense BF16 TFLOPS


@pytest.mark.skipif(not MEASURED.is_file(), reason="shared/data/throughput is not beside the project")
def test_measured_file_is_read_at_the_batch_asked_for() -> None:
    at256 = load_measured(MEASURED, batch=256)
    assert at256["8b"].decode_tps == 10425.5 and at256["8b"].prefill_tps == 38160.3
    at64 = load_measured(MEASURED, batch=64)
    assert at64["8b"].decode_tps == 6049.1 and at64["32b"].decode_tps == 2066.4
    assert load_measured(MEASURED, batch=100)["32b"].decode_tps == 2066.4  # largest batch not above 100


# --- the command ----------------------------------------------------------------------------------
def test_tco_command_prints_the_seed_comparison() -> None:
    out = runner.invoke(app, ["tco", "--tokens-per-month", "300M", "--peak-rps", "5"])
    assert out.exit_code == 0, out.output
    assert "1,809.00" in out.stdout and "249.00" in out.stdout and "-86%" in out.stdout
    assert "13.4 months" in out.stdout
    a100 = runner.invoke(app, ["tco", "--tokens-per-month", "300M", "--gpu", "a100"])
    assert "10.2 months" in a100.stdout


def test_tco_command_json_and_measured_tps() -> None:
    out = runner.invoke(
        app,
        ["tco", "--tokens-per-month", "2B", "--peak-rps", "40", "--measured-tps", "2000", "--json"],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["throughput"]["source"] == "--measured-tps"
    assert data["gpus_needed"] == max(
        math.ceil(2e9 / 2000 / 3600 / 720), math.ceil(40 * 1000 / 2000)
    )  # volume: 385.8 GPU-hours -> 1; peak: 40 req/s x 0.5 s -> 20
    assert data["break_even_months_continuous"] == pytest.approx(27_500 / (2.85 * 720))


def test_tco_command_rejects_bad_input_clearly() -> None:
    out = runner.invoke(app, ["tco"])
    assert out.exit_code == 2 and "--tokens-per-month" in out.output
    bad = runner.invoke(app, ["tco", "--tokens-per-month", "300M", "--gpu", "tpu"])
    assert bad.exit_code == 2 and "unknown GPU 'tpu'" in bad.output
    price = runner.invoke(app, ["tco", "--tokens-per-month", "300M", "--premium", "cheap"])
    assert price.exit_code == 2 and "not a price" in price.output


# --- measured from the ledger ---------------------------------------------------------------------
def test_workload_measured_from_the_ledger(tmp_path: Path) -> None:
    day = 86400.0
    t0 = 1_780_000_000.0 // day * day
    store = SQLiteStore(tmp_path / "l.db")
    recs = [replace(record(i, ts=t0 + 3600 + i), input_tokens=800, output_tokens=200) for i in range(6)]  # one minute
    recs += [replace(record(10 + i, ts=t0 + 2 * day + 60 * i), input_tokens=800, output_tokens=200) for i in range(4)]
    recs.append(replace(record(99, ts=t0 - 40 * day), input_tokens=10**9))  # outside the window
    store.write(recs)
    w = measure_workload(store, days=30, now=t0 + 2 * day + 3600)
    store.close()
    assert w is not None
    assert w.tokens_per_month == pytest.approx(10 * 1000 * 30 / 3)  # 3 days span -> scaled to 30
    assert w.input_share == pytest.approx(0.8) and w.tokens_per_request == pytest.approx(1000)
    assert w.peak_rps == pytest.approx(6 / 60)


def test_tco_command_from_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHYARD_DB_PATH", str(tmp_path / "l.db"))
    monkeypatch.delenv("SWITCHYARD_CONFIG", raising=False)
    empty = runner.invoke(app, ["tco", "--from-ledger"])
    assert empty.exit_code == 1 and "no traffic" in empty.output
    store = SQLiteStore(tmp_path / "l.db")
    store.write([replace(record(i), input_tokens=900, output_tokens=100) for i in range(20)])
    store.close()
    out = runner.invoke(app, ["tco", "--from-ledger", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["workload"]["tokens_per_month"] == pytest.approx(20 * 1000 * 30)
    assert data["workload"]["input_share"] == pytest.approx(0.9)
    assert data["workload"]["source"].startswith("ledger")
