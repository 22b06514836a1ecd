"""Screenshots of every `tunesmith ui` page, for reviewers who do not run it: docs/img/ui-*.png.

    python docs/screenshots.py PROJECT/tunesmith.yaml [--out docs/img]

Run it on a project that has been through `tunesmith run` (the quickstart: `tunesmith quickstart --tiny DIR`).
docs/img holds the pages of the project that the browser tests use, which benchmarks/ui_load.py keeps with
`--keep DIR` (the tiny quickstart, a planted dataset version, a second run, 100k generated requests):

    python benchmarks/ui_load.py --keep /tmp/uiproj && python docs/screenshots.py /tmp/uiproj/tunesmith.yaml
It needs Debian's chromium and chromium-driver (`apt-get install -y chromium chromium-driver`) and selenium.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tunesmith.config import load_config
from tunesmith.ui.app import running

PAGES = {"overview": "/", "datasets": "/datasets", "runs": "/runs", "evals": "/evals", "traffic": "/traffic?since=all"}


def _shrink(png: Path) -> None:
    """256 colours are plenty for a page of text and flat plots, and a third of the bytes in the repository."""
    from PIL import Image

    with Image.open(png) as im:
        small = im.convert("RGB").quantize(colors=256)
    small.save(png, optimize=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "img")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=1000)
    args = ap.parse_args()
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"):
        opts.add_argument(flag)
    opts.add_argument(f"--window-size={args.width},{args.height}")
    args.out.mkdir(parents=True, exist_ok=True)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    try:
        with running(load_config(args.config)) as base:
            for name, path in PAGES.items():
                driver.get(base + path)
                out = args.out / f"ui-{name}.png"
                driver.save_screenshot(str(out))
                _shrink(out)
                print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
