"""A small project for the review tests (no training): data.paths with one generated example tagged
needs_review among clean ones, and a review export as `monitor export-review` writes it (review/*.jsonl, the
default ui.review_paths), holding the model's answers tagged needs_review, one with a `<script>` in it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.data.topics import TOPICS
from tunesmith.cli.main import main
from tunesmith.config import Config, load_config

SCRIPT = "<script>window.__pwned = 1</script> Refunds go back to the card you paid with."
PASSWORDS = {"ana": "correct horse battery", "vic": "viewer password 1", "root": "admin password 12"}
ROLES = {"ana": "reviewer", "vic": "viewer", "root": "admin"}
TRAFFIC = [  # (request id, question, the model's answer, tags besides needs_review)
    ("chatcmpl-a", "Can I return a lamp after 40 days?", "Yes, returns are accepted within 60 days.", ["low_rating"]),
    ("chatcmpl-b", "Do you ship to Canada?", "We ship everywhere.", ["unseen_topic"]),
    ("chatcmpl-c", "Where does my refund go?", SCRIPT, ["low_rating", "correction"]),
]


def conversation(question: str, answer: str, meta: dict | None = None) -> dict:
    return {
        "messages": [
            {"role": "system", "content": "You are Juno, the support assistant for Lumen Home."},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "meta": meta or {},
    }


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def build(root: Path, monkeypatch) -> Config:
    """The project in `root`, with the users ana (reviewer), vic (viewer) and root (admin) added through the CLI."""
    clean = [conversation(f"How do I {t}?", f"To {t}, open Settings and follow the steps.") for t in TOPICS]
    write_jsonl(root / "data" / "support.jsonl", clean)
    generated = conversation("Can I pay with gift cards?", "Yes, at checkout.", {"tags": ["generated", "needs_review"]})
    write_jsonl(root / "data" / "drafts.jsonl", [clean[0], generated])
    rows = [
        conversation(q, a, {"id": rid, "source": "traffic", "tags": ["needs_review", *tags], "ratings": [-1.0]})
        for rid, q, a, tags in TRAFFIC
    ]
    write_jsonl(root / "review" / "2025-06-01.jsonl", rows)
    (root / "tunesmith.yaml").write_text(
        "project: {name: review-test}\n"
        "data: {paths: [data/support.jsonl, data/drafts.jsonl], pii: 'off', refusals: 'off'}\n",
        encoding="utf-8",
    )
    import io

    for name, role in ROLES.items():
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORDS[name] + "\n"))
        code = main(["ui", "user", "add", name, "--role", role, "--password-stdin", "-c", str(root / "tunesmith.yaml")])
        assert code == 0
    return load_config(root / "tunesmith.yaml")
