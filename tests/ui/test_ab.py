"""Blind A/B (issue 26, item 5) through the JSON API (FastAPI's TestClient), on a synthetic results.json with three
arms: 20 judgments by a reviewer give per-pair preference rates with CIs in the report and in results.json; the API
never names an arm before (or after) the judgment, the order is seeded per reviewer and item, and the stored
judgment maps it back to arm names; 401, 403 and the CSRF refusal; the judgments become preference pairs that
`data prepare` accepts, and human labels the judge reads."""

from __future__ import annotations

import json
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.ui.review_project import PASSWORDS, SCRIPT, build, conversation, write_jsonl
from tunesmith.cli.main import main
from tunesmith.config import load_config
from tunesmith.evals.ab import ab_pairs, human_preference, human_preference_of
from tunesmith.evals.judge import load_human_labels
from tunesmith.evals.report import render_report
from tunesmith.evals.results import EvalResults, read_results
from tunesmith.review.ab import AbStore
from tunesmith.ui.app import create_app

ARMS = ("base", "rag", "fine_tuned")
N = 10  # questions: fine_tuned against base and against rag, 20 items


def answer(arm: str, i: int) -> str:
    """Answers that never spell an arm's name, so the test can look for the names in what the API sends."""
    return {
        "fine_tuned": f"Hold the switch for five seconds, then wait ({i}).",
        "base": f"Try unplugging it ({i}).",
        "rag": SCRIPT if i == 0 else f"See the manual, chapter {i}.",
    }[arm]


def results_json(test_path) -> dict:
    summary = {"metrics": {"rougeL": 0.5}, "ci": {"rougeL": [0.4, 0.6]}, "n": {"rougeL": N}}
    examples = [
        {
            "id": f"q{i}",
            "tags": [],
            "prompt": f"How do I reset lamp number {i}?",
            "reference": "Hold the switch for five seconds.",
            "arms": {arm: {"prediction": answer(arm, i), "metrics": {"rougeL": 0.5}} for arm in ARMS},
        }
        for i in range(N)
    ]
    return EvalResults.model_validate(
        {
            "title": "ab test",
            "created_at": "2025-06-01T00:00:00+00:00",
            "reference_arm": "base",
            "headline_metric": "rougeL",
            "metrics": ["rougeL"],
            "arms": {arm: summary for arm in ARMS},
            "slices": {},
            "examples": examples,
            "dataset": {"path": str(test_path), "sha256": "0" * 64, "n_test": N},
            "lineage": {},
            "gates": [],
        }
    ).to_json()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        return build(tmp_path_factory.mktemp("ab") / "project", mp).root


@pytest.fixture
def project(built, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(built, root)
    cfg = load_config(root / "tunesmith.yaml")
    system = "You are Juno, the support assistant for Lumen Home."
    test = [
        conversation(f"How do I reset lamp number {i}?", "Hold the switch for five seconds.", {"id": f"q{i}"})
        for i in range(N)
    ]
    test_path = write_jsonl(cfg.stage_dir("dataset") / "test.jsonl", test)
    assert test[0]["messages"][0] == {"role": "system", "content": system}
    eval_dir = cfg.stage_dir("eval")
    eval_dir.mkdir(parents=True)
    (eval_dir / "results.json").write_text(json.dumps(results_json(test_path)), encoding="utf-8")
    return cfg


def login(c: TestClient, name: str) -> str:
    r = c.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def arm_of(text: str, i_question: str) -> str:
    """Which arm wrote `text`: what only the test knows."""
    i = int(i_question.rsplit(" ", 1)[1].rstrip("?"))
    return next(arm for arm in ARMS if answer(arm, i) == text)


def choose(question: str, answers: dict[str, str], n: int) -> str:
    """The reviewer's policy: against base, fine_tuned wins 8 and ties 2; against rag it wins 5, loses 3, ties 2."""
    arms = {arm_of(text, question): label for label, text in answers.items()}
    other = "base" if "base" in arms else "rag"
    wins, losses = (8, 0) if other == "base" else (5, 3)
    if n < wins:
        return arms["fine_tuned"]
    if n < wins + losses:
        return arms[other]
    return "tie"


def test_default_pairs_are_the_fine_tune_against_every_other_arm():
    assert ab_pairs(list(ARMS)) == [("fine_tuned", "base"), ("fine_tuned", "rag")]
    assert ab_pairs(["base", "guarded", "rag"]) == [("guarded", "base"), ("guarded", "rag")]
    assert ab_pairs(["base", "rag", "prompted"]) == [("base", "rag"), ("base", "prompted"), ("rag", "prompted")]
    assert ab_pairs(list(ARMS), [("rag", "base"), ("rag", "endpoint")]) == [("rag", "base")]


def test_twenty_blind_judgments_give_preference_rates_with_cis_in_results_and_report(project, tmp_path):
    c = TestClient(create_app(project, review=True))
    h = {"X-CSRF-Token": login(c, "ana")}
    seen: dict[str, int] = {"base": 0, "rag": 0}
    first_shown = set()
    for n_judged in range(20):
        r = c.get("/api/ab/next")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"item_id", "question", "reference", "answers", "remaining", "judged"}
        assert body["remaining"] == 20 - n_judged and body["judged"] == n_judged
        text = json.dumps(body)
        assert not any(arm in text for arm in ARMS), text  # no arm name before the judgment
        assert c.get("/api/ab/next").json() == body  # a reload shows the same item in the same order
        answers = {a["label"]: a["text"] for a in body["answers"]}
        assert list(answers) == ["A", "B"]
        first_shown.add(arm_of(answers["A"], body["question"]))
        other = next(arm_of(t, body["question"]) for t in answers.values() if "Hold the switch" not in t)
        choice = choose(body["question"], answers, seen[other])
        seen[other] += 1
        r = c.post(f"/api/ab/{body['item_id']}", json={"choice": choice, "note": "n"}, headers=h)
        assert r.status_code == 200, r.text
        assert not any(arm in r.text for arm in ARMS)  # nor after: the session stays blind
        again = c.post(f"/api/ab/{body['item_id']}", json={"choice": "tie"}, headers=h)
        assert again.status_code == 409
    assert first_shown == set(ARMS)  # the order is shuffled: the fine-tune is sometimes A, sometimes B
    assert c.get("/api/ab/next").json() == {"item_id": None, "remaining": 0, "judged": 20}

    judgments = AbStore(project.stage_dir("review")).judgments()
    assert len(judgments) == 20 and {j["by"] for j in judgments} == {"ana"}
    for j in judgments:  # the stored judgment names the arms the letters stood for
        assert j["winner"] == ("tie" if j["choice"] == "tie" else j["shown"][j["choice"]])
        assert set(j["shown"].values()) == set(j["arms"]) and j["arms"][0] == "fine_tuned"

    results = read_results(project.stage_dir("eval"))
    human = human_preference_of(project, results)
    assert human is not None and human.judgments == 20 and human.stale == 0 and human.reviewers == 1
    pairs = {p.arms: p for p in human.pairs}
    base, rag = pairs[("fine_tuned", "base")], pairs[("fine_tuned", "rag")]
    assert (base.items, base.wins, base.ties) == (10, {"fine_tuned": 8, "base": 0}, 2)
    assert base.win_rate == {"fine_tuned": pytest.approx(0.9), "base": pytest.approx(0.1)}
    assert rag.win_rate == {"fine_tuned": pytest.approx(0.6), "rag": pytest.approx(0.4)}
    for p in (base, rag):
        for arm, (lo, hi) in p.ci.items():
            assert 0 <= lo <= p.win_rate[arm] <= hi <= 1
    assert base.ci["fine_tuned"][0] > 0.5  # 8 wins and 2 ties in 10: clearly preferred

    results.human_preference = human
    data = results.to_json()
    assert EvalResults.model_validate(json.loads(json.dumps(data))).human_preference == human
    assert data["human_preference"]["pairs"][0]["win_rate"]["fine_tuned"] == pytest.approx(0.9)
    render_report(results, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Human preference</h2>" in page and 'id="human-preference"' in page
    assert "fine_tuned vs base" in page and "0.900 [" in page and "0.600 [" in page

    # A later evaluation whose rag answers changed keeps only the judgments of answers it still holds.
    changed = results.model_copy(deep=True)
    for ex in changed.examples:
        ex.arms["rag"].prediction += " (new)"
    later = human_preference(changed, judgments)
    assert later is not None and later.stale == 10 and [p.arms for p in later.pairs] == [("fine_tuned", "base")]


def test_refusals_without_a_session_for_a_viewer_and_without_the_csrf_token(project):
    c = TestClient(create_app(project, review=True))
    assert c.get("/api/ab/next").status_code == 401
    assert c.post("/api/ab/0123456789abcdef", json={"choice": "A"}, headers={"X-CSRF-Token": "x"}).status_code == 401
    csrf = login(c, "vic")
    item = c.get("/api/ab/next").json()  # a viewer sees the answers
    assert item["item_id"] is not None
    r = c.post(f"/api/ab/{item['item_id']}", json={"choice": "A"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    c = TestClient(create_app(project, review=True))
    csrf = login(c, "root")
    item = c.get("/api/ab/next").json()
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        r = c.post(f"/api/ab/{item['item_id']}", json={"choice": "A"}, headers=headers)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    h = {"X-CSRF-Token": csrf}
    assert c.post(f"/api/ab/{item['item_id']}", json={"choice": "C"}, headers=h).status_code == 422
    assert c.post("/api/ab/0123456789abcdef", json={"choice": "A"}, headers=h).status_code == 404
    assert not AbStore(project.stage_dir("review")).path.exists()
    assert c.post(f"/api/ab/{item['item_id']}", json={"choice": "B"}, headers=h).status_code == 200


def test_the_order_is_seeded_per_reviewer_and_the_page_keeps_answers_as_text(project):
    orders = {}
    for name in ("ana", "root"):
        c = TestClient(create_app(project, review=True))
        login(c, name)
        body = c.get("/api/ab/next").json()
        orders[name] = body
    r = c.get("/review/ab")
    assert r.status_code == 200 and "Content-Security-Policy" in r.headers
    assert '<script src="/static/ab.js">' in r.text and SCRIPT not in r.text
    assert "<kbd>a</kbd>" in r.text and "<kbd>t</kbd>" in r.text
    assert "/review/ab" in TestClient(create_app(project, review=True)).get("/").text
    assert TestClient(create_app(project)).get("/review/ab").status_code == 404  # read-only: no such page
    # The script answer reaches the client as a JSON string, to be set as text by ab.js.
    c = TestClient(create_app(project, review=True))
    h = {"X-CSRF-Token": login(c, "ana")}
    texts = []
    while (body := c.get("/api/ab/next").json())["item_id"] is not None:
        texts += [a["text"] for a in body["answers"]]
        assert c.post(f"/api/ab/{body['item_id']}", json={"choice": "tie"}, headers=h).status_code == 200
    assert SCRIPT in texts


def test_judgments_become_preference_pairs_that_prepare_accepts_and_human_labels(project, tmp_path, monkeypatch):
    c = TestClient(create_app(project, review=True))
    h = {"X-CSRF-Token": login(c, "ana")}
    n = 0
    while (body := c.get("/api/ab/next").json())["item_id"] is not None:
        answers = {a["label"]: a["text"] for a in body["answers"]}
        ours = next(label for label, t in answers.items() if "Hold the switch" in t)
        choice = "tie" if n % 5 == 4 else ours
        assert c.post(f"/api/ab/{body['item_id']}", json={"choice": choice}, headers=h).status_code == 200
        n += 1
    monkeypatch.chdir(project.root)
    pairs_file, labels_file = tmp_path / "ab-pairs.jsonl", tmp_path / "labels.jsonl"
    code = main(["review", "ab-export", "tunesmith.yaml", "--pairs-out", str(pairs_file)])
    assert code == 0
    pairs = [json.loads(line) for line in pairs_file.read_text(encoding="utf-8").splitlines()]
    assert len(pairs) == 16  # 20 judged, 4 ties skipped
    for p in pairs:
        assert p["meta"]["tags"] == ["reviewed", "ab"] and p["meta"]["review"]["by"] == ["ana"]
        assert p["chosen"][0]["content"].startswith("Hold the switch")
        assert p["prompt"][0]["role"] == "system" and p["prompt"][-1]["role"] == "user"
    out = tmp_path / "dataset"
    assert main(["data", "prepare", str(pairs_file), "--out", str(out), "--pii", "off"]) == 0
    prepared = [json.loads(line) for f in ("train", "val", "test") for line in (out / f"{f}.jsonl").open()]
    assert len(prepared) == 16  # none dropped
    assert all({"reviewed", "ab"} <= set(r["meta"]["tags"]) and r["chosen"] for r in prepared)

    code = main(["review", "ab-export", "tunesmith.yaml", "--labels-out", str(labels_file), "--dimension", "overall"])
    assert code == 0
    labels = load_human_labels(labels_file, "fine_tuned", "base")
    assert len(labels) == 10 and set(labels.values()) == {"arm", "tie"}
    assert main(["review", "ab-report", "tunesmith.yaml"]) == 0
    assert main(["review", "ab-export", "tunesmith.yaml", "--pairs-out", str(pairs_file)]) == 2  # exists


@pytest.mark.parametrize("command", ["ab-report", "ab-export"])
def test_the_review_commands_have_help_with_examples(command, capsys):
    assert main(["review", command, "--help"]) == 0
    assert "Examples" in capsys.readouterr().out
