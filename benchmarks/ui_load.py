"""Dashboard page loads: every `tunesmith ui` page in headless Chromium, against its budget (issue 14).

Run: `.venv/bin/python benchmarks/ui_load.py [--loads 7] [--requests 100000] [--keep DIR | --project CONFIG]`.

Builds the project that the browser tests use (tests/ui/project.py: the real tiny quickstart, a planted dataset
version, a second run, and `--requests` generated requests in the request log; about 3 minutes on 2 cores), serves
it with `tunesmith ui` in this process, and opens each page in Debian's Chromium through Selenium (as the tests
do): one first visit of a fresh app, then one warm-up and `--loads` timed loads. A load is the browser's navigation
timing, from the request to the end of the load event. Prints the median and the spread per page and the median
as a share of its budget: 1 s a page, 2 s for /traffic over 100k logged requests. `--keep DIR` builds the project
in DIR and keeps it (for docs/screenshots.py); `--project CONFIG` measures an existing one instead of building.
Exits 1 when a median is over its budget.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ui.browser import chrome, missing, page_load  # noqa: E402
from tests.ui.project import build_project  # noqa: E402

from tunesmith.config import load_config  # noqa: E402
from tunesmith.ui.app import running  # noqa: E402

PAGES = [("/", 1.0), ("/datasets", 1.0), ("/runs", 1.0), ("/evals", 1.0), ("/traffic?since=all", 2.0)]


def measure(cfg, loads: int) -> list[dict]:
    driver = chrome()
    try:
        with running(cfg) as url:  # a fresh app: its first visits compile the templates and open the log
            first = {path: page_load(driver, url + path)[0] for path, _ in PAGES}
        rows = []
        with running(cfg) as url:
            for path, budget in PAGES:
                page_load(driver, url + path)  # warm-up
                times = []
                for _ in range(loads):
                    seconds, errors = page_load(driver, url + path)
                    if errors:
                        raise SystemExit(f"{path}: script errors in the browser: {errors}")
                    times.append(seconds)
                median = statistics.median(times)
                rows.append(
                    {
                        "page": path,
                        "budget_s": budget,
                        "first_visit_s": round(first[path], 3),
                        "median_s": round(median, 3),
                        "min_s": round(min(times), 3),
                        "max_s": round(max(times), 3),
                        "share_of_budget": round(median / budget, 3),
                        "loads": loads,
                    }
                )
        return rows
    finally:
        driver.quit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loads", type=int, default=7, help="timed loads per page, after one warm-up")
    ap.add_argument("--requests", type=int, default=100_000, help="generated requests in the request log")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--keep", type=Path, help="build the project in this (new) folder and keep it")
    where.add_argument("--project", type=Path, help="measure this tunesmith.yaml instead of building one")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args()
    if missing:
        raise SystemExit(f"not installed: {', '.join(missing)}")

    with tempfile.TemporaryDirectory() as tmp:
        if args.project:
            cfg, built = load_config(args.project), None
        else:
            t0 = time.perf_counter()
            cfg = build_project(args.keep or Path(tmp) / "project", n_requests=args.requests)
            built = time.perf_counter() - t0
        rows = measure(cfg, args.loads)

    load = os.getloadavg()[0]
    print(f"project: {cfg.root}" + (f" (built in {built:.0f} s)" if built else "") + f"; load average {load:.1f}")
    print(f"| page | budget | first visit | median of {args.loads} | min - max | median / budget |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| `{r['page']}` | {r['budget_s']:.0f} s | {r['first_visit_s'] * 1000:.0f} ms | "
            f"**{r['median_s'] * 1000:.0f} ms** | {r['min_s'] * 1000:.0f} - {r['max_s'] * 1000:.0f} ms | "
            f"{r['share_of_budget']:.2f} |"
        )
    if args.json:
        args.json.write_text(json.dumps({"load_average": load, "rows": rows}, indent=2) + "\n", encoding="utf-8")
    over = [r["page"] for r in rows if r["share_of_budget"] > 1]
    if over:
        print(f"over budget: {', '.join(over)}")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
