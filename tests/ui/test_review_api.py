"""Review mode through its JSON API (FastAPI's TestClient; issue 26, items 2-4): the queue holds every example
tagged needs_review in data.paths and in the review exports; without a session every request is refused (401), a
viewer may read but not decide (403), a write without the CSRF token is refused (403); a reviewer's approve, edit
and reject are each in the audit log with their name, and the next `prepare --parent` takes the approved and
edited examples and not the rejected one, while the user's files stay as they were."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
from fastapi.testclient import TestClient

from tests.ui.review_project import PASSWORDS, SCRIPT, build, conversation, write_jsonl
from tunesmith.cli.main import main
from tunesmith.cli.ui import is_loopback
from tunesmith.config import load_config
from tunesmith.data.prepare import prepare_dataset
from tunesmith.ui.app import create_app
from tunesmith.ui.auth import users_path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The project with its users, built once (hashing passwords takes a moment); each test gets a copy."""
    with pytest.MonkeyPatch.context() as mp:
        return build(tmp_path_factory.mktemp("review") / "project", mp).root


@pytest.fixture
def project(built, tmp_path):
    shutil.copytree(built, tmp_path / "project")
    return load_config(tmp_path / "project" / "tunesmith.yaml")


def client(cfg) -> TestClient:
    return TestClient(create_app(cfg, review=True))


def login(c: TestClient, name: str) -> str:
    r = c.post("/api/login", json={"name": name, "password": PASSWORDS[name]})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def queue(c: TestClient) -> dict[str, dict]:
    r = c.get("/api/review/queue")
    assert r.status_code == 200, r.text
    return {i["meta"].get("id", i["source"]["file"] + ":" + str(i["source"]["line"])): i for i in r.json()["items"]}


def test_the_queue_holds_every_needs_review_example_of_the_data_and_the_exports(project):
    c = client(project)
    login(c, "vic")
    items = queue(c)
    assert set(items) == {"chatcmpl-a", "chatcmpl-b", "chatcmpl-c", "drafts.jsonl:2"}
    draft = items["drafts.jsonl:2"]
    assert draft["kind"] == "example" and draft["source"] == {"file": "data/drafts.jsonl", "line": 2}
    assert (
        items["chatcmpl-a"]["kind"] == "traffic" and items["chatcmpl-a"]["source"]["file"] == "review/2025-06-01.jsonl"
    )
    assert items["chatcmpl-c"]["messages"][-1] == {"role": "assistant", "content": SCRIPT}
    assert all({"id", "kind", "messages", "tags", "source"} <= set(i) for i in items.values())
    assert len({i["id"] for i in items.values()}) == 4


def test_without_a_session_everything_is_refused(project):
    c = client(project)
    for method, url, body in [
        ("GET", "/api/review/queue", None),
        ("GET", "/api/review/audit", None),
        ("GET", "/api/me", None),
        ("POST", "/api/review/0123456789abcdef", {"decision": "approve"}),
        ("POST", "/api/logout", {}),
    ]:
        r = c.request(method, url, json=body, headers={"X-CSRF-Token": "guess"})
        assert r.status_code == 401, (url, r.status_code)
    assert c.post("/api/login", json={"name": "ana", "password": "wrong password"}).status_code == 401
    assert c.post("/api/login", json={"name": "nobody", "password": "whatever it is"}).status_code == 401


def test_the_session_cookie_is_httponly_and_samesite_strict(project):
    c = client(project)
    r = c.post("/api/login", json={"name": "ana", "password": PASSWORDS["ana"]})
    cookie = r.headers["set-cookie"].lower()
    assert (
        "tunesmith_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    )
    assert PASSWORDS["ana"] not in json.dumps(r.json())


def test_a_viewer_reads_but_may_not_decide_and_writes_need_the_csrf_token(project):
    c = client(project)
    csrf = login(c, "vic")
    item = next(iter(queue(c).values()))
    r = c.post(f"/api/review/{item['id']}", json={"decision": "approve"}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 403 and "viewer" in r.json()["detail"]
    c = client(project)
    csrf = login(c, "ana")
    for headers in ({}, {"X-CSRF-Token": "not-the-token"}):
        r = c.post(f"/api/review/{item['id']}", json={"decision": "approve"}, headers=headers)
        assert r.status_code == 403 and "X-CSRF-Token" in r.json()["detail"]
    assert not (project.stage_dir("review") / "decisions.jsonl").exists()


def test_decisions_are_audited_and_become_the_next_dataset_version(project):
    sources = {p: digest(p) for p in [*(project.root / "data").iterdir(), *(project.root / "review").iterdir()]}
    # Version 1 from the clean data (the drafts hold an unreviewed example, which prepare refuses).
    v1 = prepare_dataset([project.path("data/support.jsonl")], project.stage_dir("dataset"), project.data)

    c = client(project)
    csrf = login(c, "ana")
    items = queue(c)
    h = {"X-CSRF-Token": csrf}
    edited = "Returns are accepted within 30 days; after that, ask for a repair."
    decisions = [
        (items["chatcmpl-b"], {"decision": "approve", "note": "right answer"}),
        (items["chatcmpl-a"], {"decision": "edit", "content": edited, "note": "policy is 30 days"}),
        (items["chatcmpl-c"], {"decision": "reject", "note": "<b>script</b> injection"}),
    ]
    for item, body in decisions:
        r = c.post(f"/api/review/{item['id']}", json=body, headers=h)
        assert r.status_code == 200, r.text
    assert c.post(f"/api/review/{items['chatcmpl-b']['id']}", json={"decision": "reject"}, headers=h).status_code == 404
    assert set(queue(c)) == {"drafts.jsonl:2"}

    audit = c.get("/api/review/audit").json()["decisions"]
    assert [(d["decision"], d["by"], d["before"]["meta"]["id"]) for d in reversed(audit)] == [
        ("approve", "ana", "chatcmpl-b"),
        ("edit", "ana", "chatcmpl-a"),
        ("reject", "ana", "chatcmpl-c"),
    ]
    edit = audit[1]
    assert edit["before"]["messages"][-1]["content"] == "Yes, returns are accepted within 60 days."
    assert edit["after"]["messages"][-1]["content"] == edited and edit["note"] == "policy is 30 days"
    assert audit[0]["after"] is None and all(d["at"] and d["role"] == "reviewer" for d in audit)
    on_disk = [json.loads(line) for line in (project.stage_dir("review") / "decisions.jsonl").open()]
    assert [d["by"] for d in on_disk] == ["ana"] * 3
    assert c.get("/api/review/audit.jsonl").text.count("\n") == 3

    reviewed = project.stage_dir("review") / "reviewed.jsonl"
    v2 = prepare_dataset([reviewed], project.artifacts_dir / "dataset-v2", project.data, parent=v1.out_dir)
    rows = [json.loads(x) for s in ("train", "val", "test") for x in (v2.out_dir / f"{s}.jsonl").open()]
    by_id = {r["meta"]["id"]: r for r in rows}
    assert by_id["chatcmpl-b"]["messages"][-1]["content"] == "We ship everywhere."
    assert by_id["chatcmpl-a"]["messages"][-1]["content"] == edited
    assert "chatcmpl-c" not in by_id and SCRIPT not in json.dumps(rows)
    for rid in ("chatcmpl-a", "chatcmpl-b"):
        tags = by_id[rid]["meta"]["tags"]
        assert "needs_review" not in tags and "reviewed" in tags
        assert by_id[rid]["meta"]["review"]["by"] == "ana"
    assert v2.counts["new"]["train"] + v2.counts["new"]["val"] == 2
    assert {p: digest(p) for p in sources} == sources  # the user's files were never rewritten


def test_an_edit_is_checked_and_an_admin_may_decide(project):
    c = client(project)
    csrf = login(c, "root")
    item = queue(c)["drafts.jsonl:2"]
    url, h = f"/api/review/{item['id']}", {"X-CSRF-Token": csrf}
    assert c.post(url, json={"decision": "edit", "content": "  "}, headers=h).status_code == 422
    bad = [{"role": "assistant", "content": "no question"}, {"role": "user", "content": "?"}]
    assert c.post(url, json={"decision": "edit", "content": bad}, headers=h).status_code == 422
    assert c.post(url, json={"decision": "maybe"}, headers=h).status_code == 422
    good = conversation("Can I pay with gift cards?", "Yes, Lumen Home gift cards work at checkout.")["messages"]
    r = c.post(url, json={"decision": "edit", "content": good, "note": "named the card"}, headers=h)
    assert r.status_code == 200 and r.json()["decision"]["by"] == "root"
    assert r.json()["decision"]["after"]["messages"][-1]["content"].startswith("Yes, Lumen Home")


def test_the_audit_page_shows_decisions_as_text(project):
    c = client(project)
    assert "Log in on the" in c.get("/review/audit").text
    csrf = login(c, "ana")
    item = queue(c)["chatcmpl-c"]
    c.post(
        f"/api/review/{item['id']}", json={"decision": "approve", "note": "<i>ok</i>"}, headers={"X-CSRF-Token": csrf}
    )
    r = c.get("/review/audit")
    assert r.status_code == 200 and "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert "&lt;script&gt;window.__pwned" in r.text and "<script>window.__pwned" not in r.text
    assert "&lt;i&gt;ok&lt;/i&gt;" in r.text and ">ana <" in r.text


def test_a_removed_user_is_logged_out_and_logout_ends_the_session(project):
    c = client(project)
    csrf = login(c, "vic")
    assert c.get("/api/me").json()["role"] == "viewer"
    assert c.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf}).status_code == 200
    assert c.get("/api/review/queue").status_code == 401
    login(c, "vic")
    assert main(["ui", "user", "remove", "vic", "-c", str(project.root / "tunesmith.yaml")]) == 0
    assert c.get("/api/review/queue").status_code == 401


def test_read_only_mode_has_no_review_api(project):
    c = TestClient(create_app(project))
    assert c.post("/api/login", json={"name": "ana", "password": PASSWORDS["ana"]}).status_code == 404
    assert c.get("/review").status_code == 404


def test_users_are_kept_hashed_outside_the_repository(project, monkeypatch, capsys):
    path = users_path(project)
    text = path.read_text()
    assert all(pw not in text for pw in PASSWORDS.values()) and "$argon2id$" in text
    assert os.stat(path).st_mode & 0o077 == 0
    assert (path.parent / ".gitignore").read_text().strip().endswith("*")
    yaml = str(project.root / "tunesmith.yaml")
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["ui", "user", "add", "eve", "--role", "reviewer", "--password-stdin", "-c", yaml]) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("long enough password\n"))
    assert main(["ui", "user", "add", "ana", "--role", "reviewer", "--password-stdin", "-c", yaml]) == 2
    assert main(["ui", "user", "add", "eve", "--role", "boss", "--password-stdin", "-c", yaml]) == 2
    assert "exists" in capsys.readouterr().err


def test_binding_beyond_loopback_warns(project, monkeypatch, capsys):
    served = {}
    monkeypatch.setattr("tunesmith.ui.app.serve_ui", lambda cfg, **kw: served.update(kw))
    yaml = str(project.root / "tunesmith.yaml")
    assert main(["ui", yaml, "--review"]) == 0
    assert served == {"host": None, "port": None, "review": True} and "warning" not in capsys.readouterr().err
    assert main(["ui", yaml, "--review", "--host", "0.0.0.0"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "not loopback" in err and "clear text" in err
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")


def test_the_queue_names_a_file_it_cannot_read(project):
    write_jsonl(project.root / "review" / "broken.jsonl", [{"nothing": "here"}])
    c = client(project)
    login(c, "vic")
    r = c.get("/api/review/queue").json()
    assert any("review/broken.jsonl" in e for e in r["errors"]) and len(r["items"]) == 4
