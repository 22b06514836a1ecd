"""Review mode in real headless Chromium (issue 26, item 6): log in through the page, see the queue with a
`<script>` in an answer shown as text (and never run), approve one item with a click, and find the decision in the
audit log under the reviewer's name; a wrong password is refused on the page. Skips where chromium, chromedriver
or selenium is missing, like the other dashboard browser tests."""

from __future__ import annotations

import json

import pytest

from tests.ui.browser import chrome, missing, page_load
from tests.ui.review_project import PASSWORDS, SCRIPT, build
from tunesmith.ui.app import running

pytestmark = pytest.mark.skipif(bool(missing), reason=f"not installed: {', '.join(missing)}")


@pytest.fixture
def project(tmp_path, monkeypatch):
    return build(tmp_path / "project", monkeypatch)


@pytest.fixture(scope="module")
def driver():
    d = chrome()
    yield d
    d.quit()


def wait_for(driver, condition, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, 15, poll_frequency=0.05).until(condition, message=what)


def by_css(selector: str):
    from selenium.webdriver.common.by import By

    return (By.CSS_SELECTOR, selector)


def script_errors(driver, url: str) -> list[dict]:
    """Open `url`; the console's script errors. The API's expected refusals (401 from /api/me before a login, or
    for a wrong password) are logged by the browser as failed loads, and are not errors of the page."""
    _, errors = page_load(driver, url)
    return [e for e in errors if e.get("source") != "network"]


def log_in(driver, base: str, name: str, password: str) -> None:
    assert script_errors(driver, f"{base}/review") == []
    driver.find_element(*by_css("#login-name")).send_keys(name)
    driver.find_element(*by_css("#login-password")).send_keys(password)
    driver.find_element(*by_css("#login-submit")).click()


def test_login_a_decision_and_a_script_that_stays_text(project, driver):
    from selenium.webdriver.support import expected_conditions as ec

    with running(project, review=True) as base:
        log_in(driver, base, "ana", "not the password")
        wait_for(driver, ec.text_to_be_present_in_element(by_css("#login-error"), "wrong name or password"), "refusal")

        driver.find_element(*by_css("#login-name")).clear()
        log_in(driver, base, "ana", PASSWORDS["ana"])
        wait_for(driver, ec.text_to_be_present_in_element(by_css("#count"), "4"), "the queue of 4 items")
        cards = driver.find_elements(*by_css("#items .item"))
        assert len(cards) == 4 and driver.find_element(*by_css("#me")).text == "ana"
        texts = [c.text for c in cards]
        assert any(SCRIPT in t for t in texts)  # shown as text, the tags and all
        assert driver.execute_script("return window.__pwned === undefined")
        assert driver.find_elements(*by_css("#items script")) == []

        target = next(c for c in cards if "Do you ship to Canada?" in c.text)
        target.find_element(*by_css("input.note")).send_keys("checked against the shipping page")
        target.find_element(*by_css("button.approve")).click()
        wait_for(driver, ec.text_to_be_present_in_element(by_css("#status"), "approved"), "the decision's status")
        wait_for(driver, ec.text_to_be_present_in_element(by_css("#count"), "3"), "the queue of 3 items")

        assert script_errors(driver, f"{base}/review/audit") == []
        rows = driver.find_elements(*by_css("#audit tr.decision"))
        assert len(rows) == 1 and "ana" in rows[0].text and "approve" in rows[0].text
        assert "checked against the shipping page" in rows[0].text
    decisions = [json.loads(x) for x in (project.stage_dir("review") / "decisions.jsonl").open()]
    assert [(d["decision"], d["by"], d["note"]) for d in decisions] == [
        ("approve", "ana", "checked against the shipping page")
    ]
    reviewed = (project.stage_dir("review") / "reviewed.jsonl").read_text()
    assert "Do you ship to Canada?" in reviewed and "needs_review" not in reviewed


def test_a_viewer_sees_the_queue_with_the_buttons_off(project, driver):
    from selenium.webdriver.support import expected_conditions as ec

    with running(project, review=True) as base:  # a new server: the last test's session is gone with it
        log_in(driver, base, "vic", PASSWORDS["vic"])
        wait_for(driver, ec.text_to_be_present_in_element(by_css("#count"), "4"), "the queue")
        buttons = driver.find_elements(*by_css("#items button.decide"))
        assert buttons and all(not b.is_enabled() for b in buttons)
        assert driver.find_element(*by_css("#viewer-note")).is_displayed()
