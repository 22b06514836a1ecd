"""Nothing tagged `needs_review` trains without a person (issue 26, item 1): `data prepare` refuses such examples
with exit 2, naming the file and lines and the command that reviews them; `--allow-unreviewed`
(`data.allow_unreviewed`) lets them through and the dataset card and manifest say so. Reviewed examples (the tag
removed, `reviewed` added, as `tunesmith ui --review` writes them) pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.data.topics import TOPICS

from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data.prepare import prepare_dataset
from tunesmith.errors import DataError

FAST = ["--pii", "off", "--refusals", "off"]


def example(topic: str, tags: list[str] | None = None) -> dict:
    meta = {"tags": tags} if tags else {}
    return {
        "messages": [
            {"role": "user", "content": f"How do I {topic}?"},
            {"role": "assistant", "content": f"To {topic}, open Settings and follow the steps for it."},
        ],
        "meta": meta,
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Twelve examples; lines 4 and 9 are the model's answers as `monitor export-review` tags them."""
    rows = [example(t) for t in TOPICS]
    rows[3]["meta"] = {"id": "chatcmpl-4", "tags": ["needs_review", "low_rating"]}
    rows[8]["meta"] = {"id": "chatcmpl-9", "tags": ["needs_review", "unseen_topic"]}
    return write(tmp_path / "support.jsonl", rows)


def test_prepare_refuses_unreviewed_examples_naming_them(data, tmp_path, capsys):
    out = tmp_path / "ds"
    code = main(["data", "prepare", str(data), "--out", str(out), *FAST])
    err = capsys.readouterr().err
    assert code == 2
    assert "2 example(s) tagged needs_review" in err and "support.jsonl lines 4, 9" in err
    assert "tunesmith ui --review" in err and "--allow-unreviewed" in err
    assert not out.exists()


def test_the_api_refuses_too_with_the_first_location(data, tmp_path):
    with pytest.raises(DataError) as e:
        prepare_dataset([data], tmp_path / "ds", DataConfig(pii="off", refusals="off"))
    assert e.value.exit_code == 2 and e.value.file == str(data) and e.value.line == 4


def test_allow_unreviewed_proceeds_and_the_card_says_so(data, tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["data", "prepare", str(data), "--out", str(out), *FAST, "--allow-unreviewed"]) == 0
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "## Unreviewed examples" in card and "Not reviewed by a person" in card
    assert "2 example(s) tagged needs_review were trained on without review" in card
    assert "support.jsonl lines 4, 9" in card
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any("needs_review" in w for w in manifest["warnings"])
    rows = [json.loads(line) for s in ("train", "val", "test") for line in (out / f"{s}.jsonl").open()]
    assert len(rows) == 12


def test_the_config_key_does_the_same(data, tmp_path):
    cfg = DataConfig(pii="off", refusals="off", allow_unreviewed=True)
    result = prepare_dataset([data], tmp_path / "ds", cfg)
    assert sum(result.counts[s] for s in ("train", "val", "test")) == 12


def test_reviewed_examples_and_clean_data_pass_without_a_card_section(tmp_path):
    rows = [example(t) for t in TOPICS]
    rows[2]["meta"] = {"tags": ["low_rating", "reviewed"], "review": {"by": "ana", "decision": "approve"}}
    data = write(tmp_path / "reviewed.jsonl", rows)
    out = tmp_path / "ds"
    prepare_dataset([data], out, DataConfig(pii="off", refusals="off"))
    assert "Unreviewed" not in (out / "README.md").read_text(encoding="utf-8")


def test_preference_pairs_tagged_needs_review_are_refused(tmp_path, capsys):
    pairs = [
        {
            "prompt": [{"role": "user", "content": f"How do I {t}?"}],
            "chosen": [{"role": "assistant", "content": f"Open Settings to {t}."}],
            "rejected": [{"role": "assistant", "content": "I cannot help with that."}],
            "meta": {"tags": ["needs_review", "correction"]} if i == 5 else {},
        }
        for i, t in enumerate(TOPICS)
    ]
    data = write(tmp_path / "pairs.jsonl", pairs)
    assert main(["data", "prepare", str(data), "--out", str(tmp_path / "ds"), "--pii", "off"]) == 2
    assert "pairs.jsonl line 6" in capsys.readouterr().err
    ok = tmp_path / "ok"
    assert main(["data", "prepare", str(data), "--out", str(ok), "--pii", "off", "--allow-unreviewed"]) == 0
    assert "Unreviewed examples" in (ok / "README.md").read_text(encoding="utf-8")
