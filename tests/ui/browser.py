"""Debian's headless Chromium through Selenium (no browser download), for the dashboard tests and
benchmarks/ui_load.py: what is missing, a driver, and a page load timed by the browser's navigation timing."""

from __future__ import annotations

import importlib.util
import shutil
import time
from typing import Any

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
missing = [
    what
    for what, ok in (
        ("Debian's chromium (apt-get install -y chromium)", CHROMIUM),
        ("chromium-driver (apt-get install -y chromium-driver)", DRIVER),
        ("selenium (pip install selenium)", importlib.util.find_spec("selenium")),
    )
    if not ok
]
NAVIGATION_MS = (
    "const n = performance.getEntriesByType('navigation')[0]; return n && n.loadEventEnd > 0 ? n.duration : 0;"
)


def chrome(width: int = 1280, height: int = 1000) -> Any:
    """A headless Chromium driver that keeps the browser console's log (to fail on script errors)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={width},{height}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    return driver


def page_load(driver: Any, url: str) -> tuple[float, list[dict[str, Any]]]:
    """Open `url`: the navigation's duration (its start to the end of the load event) in seconds, and the
    browser console's severe messages (script errors) since the last call."""
    driver.get(url)
    deadline = time.monotonic() + 10
    while (ms := driver.execute_script(NAVIGATION_MS)) <= 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the load event has not finished yet
    return ms / 1000, [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
