"""The dashboard end to end in headless Chromium (Debian's chromium + chromium-driver, driven by
selenium): log in, read the numbers a seeded ledger implies, save a screenshot.

Outside CI the test is skipped when /usr/bin/chromium is missing; with CI=true it fails instead.
``SWITCHYARD_DASHBOARD_PNG=docs/dashboard.png`` also writes the screenshot there (``make screenshot``);
for that picture the seed's fourth team gets a plain name instead of the hostile one.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchyard.store.sqlite import SQLiteStore
from switchyard.testing import browser
from switchyard.testing.browser import wait_for
from tests.conftest import ADMIN_KEY, RunningGateway, run_gateway

from .seed import PROPRIETARY, XSS_TEAM, SeedRow, seed_config, seed_rows

if not browser.available():
    message = "headless Chromium is needed: apt-get install -y chromium chromium-driver (see .ci/run)"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver


def money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


DOCS_PNG = os.environ.get("SWITCHYARD_DASHBOARD_PNG")
FOURTH_TEAM = "platform" if DOCS_PNG else XSS_TEAM


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[RunningGateway, list[SeedRow], float]]:
    now = time.time()
    rows = seed_rows(now, fourth_team=FOURTH_TEAM)
    db = tmp_path / "ledger.db"
    store = SQLiteStore(db)
    store.write([r.record for r in rows])
    store.close()
    with run_gateway(seed_config(FOURTH_TEAM), db) as gw:
        yield gw, rows, now


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[WebDriver]:
    with browser.chromium(tmp_path / "chromium-profile") as drv:
        yield drv


def text(drv: WebDriver, css: str) -> str:
    return str(drv.find_element(By.CSS_SELECTOR, css).text)


def test_dashboard_in_chromium(seeded: tuple[RunningGateway, list[SeedRow], float], driver: WebDriver, tmp_path: Path) -> None:  # fmt: skip
    gw, rows, now = seeded
    drv = driver
    drv.get(gw.url + "/")
    assert drv.current_url.endswith("/login")

    drv.find_element(By.ID, "key").send_keys("sy-wrong-key")
    drv.find_element(By.ID, "login").click()
    wait_for(drv, "#login-error")
    assert text(drv, "#login-error") == "That key cannot open the dashboard."
    assert "sy-wrong-key" not in drv.page_source

    drv.find_element(By.ID, "key").send_keys(ADMIN_KEY)
    drv.find_element(By.ID, "login").click()
    wait_for(drv, "[data-testid=spend]")
    assert drv.current_url == gw.url + "/"
    cookie = drv.get_cookie("switchyard_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    # What the seeded ledger implies for the default 30-day window, computed from the seed rows.
    inside = [r for r in rows if r.record.ts >= now - 30 * 86400]
    cost = sum(r.record.cost for r in inside)
    savings = sum(r.record.counterfactual_cost for r in inside) - cost
    served = [r for r in inside if r.served]
    proprietary = sum(1 for r in served if r.record.served_model in PROPRIETARY)
    assert money(text(drv, "[data-testid=spend]")) == pytest.approx(cost, abs=0.005)
    assert money(text(drv, "[data-testid=savings]")) == pytest.approx(savings, abs=0.005)
    assert int(text(drv, "[data-testid=requests]").replace(",", "")) == len(inside)
    assert int(text(drv, "[data-testid=errors]")) == len(inside) - len(served)
    assert percent(text(drv, "[data-testid=proprietary-share]")) == pytest.approx(proprietary / len(served), abs=6e-4)

    by_team: dict[str, float] = defaultdict(float)
    for r in inside:
        by_team[str(r.record.team)] += r.record.cost
    team_rows = drv.find_elements(By.CSS_SELECTOR, "#teams tbody tr")
    shown = {row.get_attribute("data-team"): money(row.find_element(By.CSS_SELECTOR, "[data-col=spend]").text) for row in team_rows}  # fmt: skip
    assert shown.keys() == by_team.keys() and FOURTH_TEAM in shown  # a hostile name is shown as text
    for team, spent in by_team.items():
        assert shown[team] == pytest.approx(spent, abs=0.005)
    assert not drv.find_elements(By.TAG_NAME, "script")

    today = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
    research_today = sum(
        r.record.cost
        for r in rows
        if r.record.team == "research" and datetime.fromtimestamp(r.record.ts, UTC).strftime("%Y-%m-%d") == today
    )
    budget = drv.find_element(By.CSS_SELECTOR, "#budgets tr[data-scope='team:research'][data-limit=usd_per_day]")
    assert money(budget.find_element(By.CSS_SELECTOR, "[data-col=used]").text) == pytest.approx(
        research_today, abs=5e-5
    )
    assert money(budget.find_element(By.CSS_SELECTOR, "[data-col=limit]").text) == 5.0

    expected_decisions: dict[tuple[str, str, str], int] = defaultdict(int)
    for r in inside:
        expected_decisions[(r.record.route or "-", str(r.record.served_model), r.code)] += 1
    decision_rows = drv.find_elements(By.CSS_SELECTOR, "#decisions tbody tr")
    decisions = {
        (row.get_attribute("data-route"), row.get_attribute("data-model"), row.get_attribute("data-reason")): int(
            row.find_element(By.CSS_SELECTOR, "[data-col=requests]").text
        )
        for row in decision_rows
    }
    assert decisions == dict(expected_decisions)

    errors = sorted((r.record for r in inside if not r.served), key=lambda rec: -rec.ts)
    error_rows = drv.find_elements(By.CSS_SELECTOR, "[data-testid=error-row]")
    assert len(error_rows) == min(15, len(errors))
    first = error_rows[0]
    assert first.find_element(By.CSS_SELECTOR, "[data-col=status]").text == str(errors[0].status)
    assert first.find_element(By.CSS_SELECTOR, "[data-col=error]").text == errors[0].error_class

    shot = tmp_path / "dashboard.png"
    browser.full_page_screenshot(drv, shot)
    assert shot.stat().st_size > 10_000
    if DOCS_PNG:
        shutil.copyfile(shot, DOCS_PNG)

    drv.find_element(By.LINK_TEXT, "7d").click()
    wait_for(drv, "nav a.on[href='/?period=7d']")
    week = sum(r.record.cost for r in rows if r.record.ts >= now - 7 * 86400)
    assert money(text(drv, "[data-testid=spend]")) == pytest.approx(week, abs=0.005)

    drv.find_element(By.ID, "logout").click()
    wait_for(drv, "#key")
    assert drv.current_url.endswith("/login")
    drv.get(gw.url + "/")
    assert drv.current_url.endswith("/login")
