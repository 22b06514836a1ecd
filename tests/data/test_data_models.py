"""The model-backed parts of `check`: MiniLM embedding spread (`low_diversity`) and exact token counts (`--model`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tunesmith.cli.main import main
from tunesmith.config import DataConfig
from tunesmith.data import stats
from tunesmith.data.check import check_files
from tunesmith.models.embedding import load_embedder

ASSETS = Path(__file__).parent / "assets"
# Twenty ways to ask one question: different words (distinct-2 stays high), one meaning (embeddings agree).
PARAPHRASES = [
    "How do I reset my password?",
    "I forgot my password, how can I change it?",
    "What is the way to recover a lost password?",
    "Can you help me set a new password for my account?",
    "My password stopped working, how do I get a new one?",
    "Where do I go to reset the account password?",
    "Password reset: what are the steps?",
    "I can't remember my login password, what now?",
    "Is there a link to change a forgotten password?",
    "How can I recover access when I lost my password?",
    "Please explain how to reset a password.",
    "Need to change my password, where is that option?",
    "Locked out after forgetting the password, how to reset?",
    "What should I do if I do not know my password anymore?",
    "Steps for resetting my account password please",
    "How do I make a new password if the old one is gone?",
    "Forgot password. Help me reset it?",
    "Where is the password recovery page?",
    "How to restore my password for signing in?",
    "Lost my password, how do I set another?",
]
TOPICS = [
    "How do I reset my password?",
    "What time does the Berlin store open on Sundays?",
    "Can I pay for an order with a bank transfer?",
    "Why does my blender make a grinding noise?",
    "Is the warranty valid outside the European Union?",
    "Which sizes does the winter jacket come in?",
    "How long does shipping to Canada usually take?",
    "Can I return a gift without the receipt?",
    "Do you offer student discounts on laptops?",
    "What is the battery life of the wireless headphones?",
    "How do I install the printer driver on Linux?",
    "Are your coffee beans roasted in-house?",
    "Where can I recycle my old phone?",
    "Does the hotel room include breakfast?",
    "How many people fit in the large camping tent?",
    "Can I change the delivery address after ordering?",
    "What ingredients are in the vegan lasagna?",
    "Is the museum accessible by wheelchair?",
    "How do I cancel my gym membership?",
    "Which languages does the tour guide speak?",
]


def _write(path: Path, prompts: list[str]) -> Path:
    with open(path, "w") as f:
        for i, p in enumerate(prompts):
            msgs = [{"role": "user", "content": p}, {"role": "assistant", "content": f"Here is how, step {i}."}]
            f.write(json.dumps({"messages": msgs}) + "\n")
    return path


@pytest.fixture(scope="module")
def embedder():
    return load_embedder()  # load MiniLM once for the module (seconds); the checks below then take ~0.1 s each


def test_paraphrases_are_low_diversity_by_embeddings_alone(embedder, tmp_path):
    report = check_files([_write(tmp_path / "p.jsonl", PARAPHRASES)], pii_scan=False, diversity=True)
    div = report.stats["diversity"]
    assert div["distinct_2"] >= stats.LOW_DISTINCT_2  # the words differ: only the embeddings see it
    assert div["embedding_spread"] < stats.LOW_EMBEDDING_SPREAD and div["embedding_sample"] == 20
    (low,) = [f for f in report.findings if f.kind == "low_diversity"]
    assert "embedding spread" in low.message and "distinct-2" not in low.message


def test_varied_prompts_are_not_low_diversity(embedder, tmp_path):
    report = check_files([_write(tmp_path / "t.jsonl", TOPICS)], pii_scan=False, diversity=True)
    assert report.stats["diversity"]["embedding_spread"] > stats.LOW_EMBEDDING_SPREAD
    assert not [f for f in report.findings if f.kind == "low_diversity"]


def test_embedding_sample_caps_the_work(embedder, tmp_path):
    path = _write(tmp_path / "t.jsonl", TOPICS)
    a = check_files([path], DataConfig(embedding_sample=8), pii_scan=False).stats["diversity"]
    b = check_files([path], DataConfig(embedding_sample=8), pii_scan=False).stats["diversity"]
    assert a["embedding_sample"] == 8 and a == b  # seeded: the same sample, the same figure


def test_model_tokenizer_counts_tokens_exactly(tiny_model_dir, tiny_tokenizer, capsys):
    path = ASSETS / "too_long.jsonl"
    report = check_files([path], max_seq_len=100, pii_scan=False, diversity=False, tokenizer=tiny_tokenizer)
    assert report.stats["token_counter"].startswith("tokenizer")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    exact = [
        len(tiny_tokenizer.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"])
        for r in lines
    ]
    assert report.stats["tokens_per_example"]["total"]["max"] == max(exact)
    too_long = [i + 1 for i, n in enumerate(exact) if n > 100]
    assert too_long and [f.lines for f in report.findings if f.kind == "too_long"] == [[n] for n in too_long]
    code = main(
        [
            "data",
            "check",
            str(path),
            "--model",
            str(tiny_model_dir),
            "--max-seq-len",
            "100",
            "--no-pii",
            "--no-embeddings",
            "--json",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["stats"]["token_counter"] == report.stats["token_counter"] and code == 1


def test_unknown_model_exits_2(capsys, tmp_path):
    code = main(["data", "check", str(ASSETS / "too_long.jsonl"), "--model", str(tmp_path / "nope"), "--no-pii"])
    assert code == 2 and "cannot load the tokenizer" in capsys.readouterr().err
