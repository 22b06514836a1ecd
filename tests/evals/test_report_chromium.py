"""Open report.html in headless Chromium: the page must render the headline table and the plots, with no
console errors. Skipped where Debian's `chromium` is not installed (apt-get install -y chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tests.evals.test_report import _results, _synthetic_examples

from tunesmith.evals.report import render_report

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y chromium)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
    "--window-size=1280,2000",
]


def _chromium(page: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    results = _results(_synthetic_examples(40))
    results["forgetting"] = {
        "base_perplexity": 20.0,
        "fine_tuned_perplexity": 30.0,
        "rise": 0.5,
        "max_rise": 0.25,
        "flagged": True,
    }
    page = tmp_path / "report.html"
    render_report(results, page)

    dom = _chromium(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert re.search(r'<table id="headline">.*?</table>', dom.stdout, re.S)
    plots = re.findall(r'<img class="plot"[^>]*src="data:image/png;base64,', dom.stdout)
    assert len(plots) >= 3  # quality bars, behaviour bars, quality vs cost
    assert 'id="forgetting"' in dom.stdout
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console

    shot = _chromium(page, tmp_path, f"--screenshot={tmp_path / 'report.png'}")
    assert shot.returncode == 0, shot.stderr[-2000:]
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000  # a rendered page, not a blank one
