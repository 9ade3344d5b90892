"""Headless Chromium for the dashboard's end-to-end test and its screenshots: Debian's ``chromium`` and
``chromium-driver`` driven by selenium (a dev dependency), never a downloaded browser.

Run as root in a container, Chromium needs ``--no-sandbox``; the network flags keep it from calling out
(this machine's network is closed, and a test must only talk to loopback).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1360,1000",
)
WIDTH = 1360


def available() -> bool:
    return CHROMIUM.exists() and CHROMEDRIVER.exists()


@contextmanager
def chromium(profile_dir: Path) -> Iterator[Any]:
    """A selenium WebDriver on a fresh profile in ``profile_dir``; quits on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # selenium must never fetch a browser or a driver
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile_dir}"):
        opts.add_argument(flag)
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(30)
    try:
        yield drv
    finally:
        drv.quit()


def wait_for(drv: Any, css: str, seconds: float = 15) -> None:
    """Form posts and link clicks navigate asynchronously: wait until the next page shows ``css``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(drv, seconds).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))


def log_in(drv: Any, base_url: str, key: str) -> None:
    """Open the dashboard and log in with ``key`` (waits for the overview)."""
    from selenium.webdriver.common.by import By

    drv.get(base_url + "/")
    drv.find_element(By.ID, "key").send_keys(key)
    drv.find_element(By.ID, "login").click()
    wait_for(drv, "[data-testid=spend]")


def full_page_screenshot(drv: Any, path: Path) -> None:
    """The whole page, not just the window."""
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(WIDTH, int(height) + 20)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not drv.save_screenshot(str(path)):
        raise RuntimeError(f"could not save a screenshot to {path}")
