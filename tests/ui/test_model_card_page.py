"""The dashboard links each evaluation's model card and shows it as a page, its text escaped (no browser needed)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from tests.evals.test_verdict import SIX, synthetic
from tunesmith.config import Config
from tunesmith.evals.model_card import write_model_card
from tunesmith.ui.app import create_app


def test_the_model_card_page_is_linked_and_escapes_its_text(tmp_path: Path) -> None:
    cfg = Config(root=tmp_path)
    out = cfg.stage_dir("eval")
    out.mkdir(parents=True)
    results = synthetic({arm: 0.5 for arm in SIX})
    (out / "results.json").write_text(json.dumps(results.to_json()), encoding="utf-8")
    write_model_card(results, out, project="acme <script>alert(1)</script>")
    with (out / "model_card.md").open("a", encoding="utf-8") as f:
        f.write("\n<img src=x onerror=alert(2)> [click](javascript:alert(3))\n")
    with TestClient(create_app(cfg)) as client:
        listing = client.get("/evals")
        assert listing.status_code == 200 and '<a href="/evals/eval/model_card">model card</a>' in listing.text
        page = client.get("/evals/eval/model_card")
        assert page.status_code == 200
        html = page.text
        assert "<h1>Model card: acme &lt;script&gt;alert(1)&lt;/script&gt;</h1>" in html
        assert "<h2>Personal data</h2>" in html and "<table>" in html  # Markdown headings and tables rendered
        assert "<script>alert" not in html and "<img" not in html and "&lt;img src=x" in html
        assert 'href="javascript:' not in html  # shown as text, never a link
        assert client.get("/evals/nope/model_card").status_code == 404
