"""`tunesmith ui` in real headless Chromium (Debian's chromium and chromium-driver, through Selenium; no browser
download), on the artifacts of a real tiny quickstart (tests/ui/project.py, built once per session): every page
renders its tables and plots, the test-case browser filters, a `<script>` planted in a training example shows as
text, and the runs page sets each run's stored estimate against its actual time.

Page loads are measured with the browser's navigation timing and recorded (printed, and written to
ui-load-times.json in the session's tmp dir), never asserted: tests have no wall-clock thresholds. The budgets
(1 s a page, 2 s for /traffic over 100k logged requests) are checked by benchmarks/ui_load.py, and its figures
are in docs/benchmarks.md.

The browser tests skip with their reason where chromium, chromedriver or selenium is missing; the tests of the
app without a browser run everywhere.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.ui.browser import chrome, missing, page_load
from tests.ui.conftest import N_REQUESTS
from tests.ui.project import PLANTED, PLANTED_ANSWER, RAW_EMAIL
from tunesmith.cli.main import main
from tunesmith.config import Config, UiConfig
from tunesmith.registry import Registry
from tunesmith.ui.app import _num, create_app, running
from tunesmith.ui.loaders import fine_tune_lost
from tunesmith.ui.review import SECURITY_HEADERS

browser = pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


@pytest.fixture(scope="module")
def load_times(tmp_path_factory: pytest.TempPathFactory):
    """Every measured page load of the module, recorded for reading, not judged: ui-load-times.json."""
    times: dict[str, list[float]] = {}
    yield times
    out = tmp_path_factory.getbasetemp() / "ui-load-times.json"
    out.write_text(json.dumps(times, indent=2) + "\n", encoding="utf-8")
    print(f"page load times (s) in {out}: {json.dumps(times)}")


@pytest.fixture(scope="module")
def base_url(cfg: Config):
    with running(cfg) as url:
        yield url


@pytest.fixture(scope="module")
def driver():
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    d = chrome()
    yield d
    d.quit()


def load(driver, url: str) -> float:
    """Open `url` with no script error in the browser's console; the load's duration in seconds."""
    seconds, errors = page_load(driver, url)
    assert errors == [], errors
    return seconds


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


@browser
@pytest.mark.parametrize(
    ("path", "tables", "plots"),
    [
        ("/", 2, 0),
        ("/datasets", 4, 0),
        ("/runs", 4, 5),  # the two runs' loss and lr curves, and both losses side by side
        ("/evals", 3, 1),  # arms, slices, test cases; the tokens/latency/cost plot
        ("/traffic?since=all", 6, 3),  # requests per day, mean latency, ratings: over 100k requests
    ],
)
def test_each_page_renders_its_tables_and_plots(driver, base_url, load_times, path, tables, plots) -> None:
    load(driver, base_url + path)  # warm: the first request of a page compiles its template
    load_times.setdefault(path, []).append(load(driver, base_url + path))
    assert css(driver, "h1")
    assert len(css(driver, "main table")) >= tables
    images = css(driver, "main img.plot")  # matplotlib PNGs, as in the report; no hand-drawn SVG left
    assert len(images) >= plots and css(driver, "main svg") == []
    for img in images:
        assert img.size["width"] > 100 and img.size["height"] > 50  # laid out, not collapsed
        assert int(img.get_attribute("naturalWidth")) > 100  # the data: URI decoded into an image


@browser
def test_first_visit_of_every_page_renders(cfg: Config, driver, load_times) -> None:
    with running(cfg) as url:  # a fresh app: templates not compiled yet, the log's engine not opened
        for path in ("/", "/datasets", "/runs", "/evals", "/traffic"):
            load_times.setdefault(f"first visit {path}", []).append(load(driver, url + path))
            assert css(driver, "h1")


@browser
def test_overview_shows_lineage_served_model_and_gate_verdict(cfg: Config, driver, base_url) -> None:
    load(driver, base_url + "/")
    served = Registry(cfg).served()
    assert css(driver, "#served code.run-id")[0].text == served.run_id
    assert css(driver, "#served .verdict")[0].text == "passed"  # the quickstart's gate
    rows = css(driver, "#lineage .lineage")
    assert len(rows) == 2  # two runs, each dataset → run → evaluation → served or not
    assert sum("served" in r.text and "not served" not in r.text for r in rows) == 1
    assert sum("not evaluated" in r.text for r in rows) == 1  # the second run
    changes = css(driver, "#changes")[0].text
    assert "learning_rate" in changes and "0.005" in changes and "0.002" in changes
    assert "epochs" in changes


@browser
def test_datasets_page_groups_findings_previews_redacted_and_diffs_versions(driver, base_url) -> None:
    load(driver, base_url + "/datasets")
    kinds = [r.text.split()[0] for r in css(driver, "table.finding-kinds tr")[1:]]
    assert "pii" in kinds and len(kinds) == len(set(kinds))
    text = driver.find_element("tag name", "body").get_attribute("textContent")
    assert "<EMAIL_ADDRESS>" in text  # the preview of line 29 shows the placeholder...
    assert RAW_EMAIL not in driver.page_source  # ...and the address nowhere on the page
    diff = css(driver, "table.diff tr")[1:]
    assert len(diff) == 3 and sum(int(r.find_elements("css selector", "td")[3].text) for r in diff) == 1  # added
    assert len(css(driver, "table.versions tr")) == 3


@browser
def test_a_planted_script_shows_as_text(cfg: Config, driver, base_url) -> None:
    """The planted example went through data → check → prepare like any other: it shows, escaped, as text."""
    split = next(
        s for s in ("train", "val", "test") if PLANTED in (cfg.stage_dir("dataset") / f"{s}.jsonl").read_text()
    )
    load(driver, f"{base_url}/datasets?split={split}&q=PLANTED")
    assert css(driver, ".match-count")[0].text == "1"
    shown = css(driver, "table.examples .content")
    assert any(el.text == PLANTED for el in shown)
    assert any(el.text == PLANTED_ANSWER for el in shown)
    assert [s.get_attribute("src") for s in css(driver, "script")] == [base_url + "/static/app.js"]
    assert css(driver, "main b") == []  # <b> in the data is text too
    load(driver, base_url + "/traffic?since=all")  # a correction with <script> in the request log
    assert any("<script>alert(2)</script>" in el.text for el in css(driver, "table.corrections td"))
    assert [s.get_attribute("src") for s in css(driver, "script")] == [base_url + "/static/app.js"]


@browser
def test_runs_side_by_side(cfg: Config, driver, base_url) -> None:
    load(driver, base_url + "/runs")
    assert len(css(driver, "table.runs tr")) == 3
    (plot,) = css(driver, "#compare img.plot")
    runs = Registry(cfg).runs()
    for run in runs:  # train and val of each run, named in the plot's alt text
        assert f"{run.run_id} train" in plot.get_attribute("alt") and f"{run.run_id} val" in plot.get_attribute("alt")
    diff = " ".join(r.text for r in css(driver, "#compare tr.config-diff"))
    assert "train.learning_rate" in diff and "train.epochs" in diff
    best = [json.loads((r.path / "manifest.json").read_text())["best_checkpoint"] for r in runs]
    assert [e.text for e in css(driver, ".best-step")] == [b.rsplit("-", 1)[-1] for b in best]


@browser
def test_runs_page_sets_the_stored_estimate_against_the_actual_time(cfg: Config, driver, base_url) -> None:
    """Each real run wrote the estimate timed over its first steps; the page shows it next to what the run took."""
    load(driver, base_url + "/runs")
    for run in Registry(cfg).runs():
        est = json.loads((run.path / "estimate.json").read_text())
        counts = json.loads((run.path / "manifest.json").read_text())["counts"]
        section = css(driver, f"section#run-{run.run_id}")[0]
        rows = {
            r.find_element("css selector", "td").text: [c.text for c in r.find_elements("css selector", "td")[1:]]
            for r in section.find_elements("css selector", "table.timing tr")[1:]
        }
        assert rows["seconds"] == [
            _num(est["seconds"], 1),
            _num(counts["train_seconds"], 1),
            f"{counts['train_seconds'] / est['seconds']:.2f}×",
        ]
        assert rows["tokens/s"][:2] == [_num(est["tokens_per_second"], 1), _num(counts["tokens_per_second"], 1)]
        assert rows["optimizer steps"][:2] == [_num(est["steps"], 0), _num(counts["steps"], 0)]
        assert rows["tokens trained"][0] == _num(est["train_tokens"], 0)
        assert est["device"] == "cpu" and "first optimizer steps on cpu" in section.text
        assert est["method"] in section.text
    estimated = [r.find_elements("css selector", "td")[10].text for r in css(driver, "table.runs tr")[1:]]
    assert all(e != "–" for e in estimated)  # the runs table has the estimate next to the actual seconds


@browser
def test_test_case_browser_filters_by_tag_and_fine_tune_lost(cfg: Config, driver, base_url) -> None:
    from selenium.webdriver.support.ui import Select

    load(driver, base_url + "/evals")
    served = Registry(cfg).served()
    section = css(driver, f"section#eval-{served.run_id}")[0]
    results = json.loads((served.evaluation.path / "results.json").read_text())
    examples = results["examples"]

    def visible() -> list[str]:
        return [
            r.get_attribute("data-id") for r in section.find_elements("css selector", "tr.case") if r.is_displayed()
        ]

    assert len(visible()) == len(examples)
    tag = sorted({t for e in examples for t in e["tags"]})[0]
    Select(section.find_element("css selector", "select.tag-filter")).select_by_value(tag)
    assert sorted(visible()) == sorted(e["id"] for e in examples if tag in e["tags"])
    Select(section.find_element("css selector", "select.tag-filter")).select_by_value("")
    section.find_element("css selector", "input.lost-filter").click()
    from tunesmith.evals.results import EvalResults

    lost = fine_tune_lost(EvalResults.of(results))
    assert lost and sorted(visible()) == sorted(lost)
    assert section.find_element("css selector", ".shown").text == str(len(lost))


@browser
def test_traffic_page_aggregates_100k_requests(cfg: Config, driver, base_url) -> None:
    load(driver, base_url + "/traffic?since=all")
    assert css(driver, "#requests .total")[0].text == f"{N_REQUESTS:,}"
    lat = np.array(
        [v for (v,) in sqlite3.connect(cfg.root / "tunesmith.db").execute("SELECT latency_ms FROM requests")]
    )
    cells = [c.text for c in css(driver, "table.latency td")[1:]]
    expected = np.percentile(lat, [50, 90, 95, 99], method="inverted_cdf").tolist() + [lat.max()]
    assert cells == [f"{v:,.0f}" for v in expected]
    assert (
        "fired" in css(driver, "#drift")[0].text
        and css(driver, "ul.unseen li")[0].text == "can I pay in <b>bitcoin</b>?"
    )
    assert "export-review" in css(driver, "#review")[0].text
    (plot,) = css(driver, ".requests-plot img.plot")
    assert "requests per day: 8 bars" in plot.get_attribute("alt")  # 7 days back from now: 8 calendar days


# ---- without a browser ----------------------------------------------------------------------------------------


def test_ui_binds_to_loopback_by_default_and_is_a_cli_command(capsys) -> None:
    assert UiConfig().host == "127.0.0.1" and Config().ui.port == 8080
    assert main(["ui", "--help"]) == 0
    assert "--port" in capsys.readouterr().out


def test_the_app_is_read_only_and_serves_its_own_assets(cfg: Config) -> None:
    client = TestClient(create_app(cfg))
    for path in ("/", "/datasets", "/runs", "/evals", "/traffic"):
        page = client.get(path)
        assert page.status_code == 200
        # Every asset from the app, no CDN: the only other source is a plot's PNG, inlined as a data: URI.
        assert re.findall(r'(?:src|href)="(?!data:image/png;base64,)(?:[a-z]+:|//)[^"]*', page.text) == []
        assert client.post(path).status_code == 405  # nothing to post: no action without the serve API key
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200
    assert client.get("/runs?a=nope").status_code == 404
    assert client.get("/traffic?since=soon").status_code == 400
    assert client.get("/evals/../../etc/passwd/report.html").status_code == 404
    run = Registry(cfg).served().run_id
    assert client.get(f"/evals/{run}/report.html").text.startswith("<!DOCTYPE html>")


def test_every_plot_of_the_dashboard_and_the_report_is_a_matplotlib_png(cfg: Config) -> None:
    """One plotting library (tunesmith/plots.py): PNGs inlined as data: URIs, in the pages and in report.html alike."""
    client = TestClient(create_app(cfg))
    png = re.compile(r'<img class="plot" alt="[^"<]+" src="data:image/png;base64,[A-Za-z0-9+/=]+">')
    for path, n in (("/runs", 5), ("/evals", 1), ("/traffic?since=all", 3)):
        page = client.get(path).text
        assert len(png.findall(page)) >= n, path
        assert "<svg" not in page and "<polyline" not in page, path
    report = (Registry(cfg).served().evaluation.path / "report.html").read_text(encoding="utf-8")
    assert len(png.findall(report)) >= 2 and "<svg" not in report
    assert "img-src 'self' data:;" in SECURITY_HEADERS["Content-Security-Policy"]  # the review pages may show them


def test_traffic_without_a_request_log_says_so_and_creates_nothing(tmp_path: Path) -> None:
    cfg = Config(root=tmp_path)
    page = TestClient(create_app(cfg)).get("/traffic")
    assert page.status_code == 200 and "No request log yet" in page.text
    assert not (tmp_path / "tunesmith.db").exists()
    for path in ("/", "/datasets", "/runs", "/evals"):
        assert TestClient(create_app(cfg)).get(path).status_code == 200  # an empty project renders too


def test_config_diff_tells_a_missing_key_from_a_changed_one() -> None:
    from tunesmith.ui.loaders import ABSENT, config_diff

    old = {"learning_rate": 5e-3, "lora": {"r": 8, "alpha": 16}}
    new = {"learning_rate": 2e-3, "lora": {"r": 16, "alpha": 16}, "vendor": {"suffix": None}}
    assert config_diff(old, new) == [
        ("learning_rate", 5e-3, 2e-3),
        ("lora.r", 8, 16),
        ("vendor", ABSENT, {"suffix": None}),
    ]
