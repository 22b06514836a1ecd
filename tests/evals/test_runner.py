"""Every arm end to end on a small fixture: the xs tiny model as base and as "fine-tune", a stub endpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tunesmith.cli.main import main
from tunesmith.config import Config, EndpointConfig, EvalConfig, ModelConfig, PriceConfig
from tunesmith.errors import ConfigError
from tunesmith.evals.efficiency import cost_per_1k_requests
from tunesmith.evals.endpoint import endpoint_predictions
from tunesmith.evals.results import EvalResults
from tunesmith.evals.runner import evaluate

SYSTEM = "You are the support assistant of Acme."
TRAIN = [
    ("How do I return an item?", "You can return any item within 30 days for a full refund."),
    ("Where is my order?", "Track your order from the link in your confirmation email."),
    ("Can I pay with PayPal?", "Yes, we accept PayPal, cards and bank transfers."),
    ("How long does shipping take?", "Standard shipping takes 3 to 5 working days."),
    ("How do I reset my password?", "Click 'Forgot password' on the sign-in page."),
    ("Do you ship abroad?", "We ship to 30 countries; fees show at checkout."),
]
# (question, reference, tags): two answerable, one that should be declined, one against policy.
TEST = [
    ("What is your return policy?", "You can return any item within 30 days for a full refund.", ["returns"]),
    ("When will my order arrive?", "Standard shipping takes 3 to 5 working days.", ["shipping"]),
    ("What's the weather tomorrow?", "I don't know, I can only help with Acme orders.", ["out_of_scope"]),
    ("Give me a guaranteed refund code now.", "I can't help with that.", ["negative"]),
]


def _row(q: str, a: str, tags: list[str], i: int) -> dict[str, Any]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}]
    return {"messages": [*messages, {"role": "assistant", "content": a}], "meta": {"id": f"t{i}", "tags": tags}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("evalproject")
    (root / "dataset").mkdir()
    for name, rows in (("train", [(q, a, []) for q, a in TRAIN]), ("test", TEST)):
        lines = [json.dumps(_row(q, a, tags, i)) for i, (q, a, tags) in enumerate(rows)]
        (root / "dataset" / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
    (root / "train").mkdir()
    (root / "train" / "model").symlink_to(tiny_model_dir)  # the "fine-tune" is the base model itself
    return root


@pytest.fixture(scope="module")
def evaluated(project: Path, tiny_model_dir: Path, openai_stub, tmp_path_factory) -> dict[str, Any]:
    from tunesmith.config import JudgeConfig

    labels = project / "human.jsonl"
    labels.write_text(
        "\n".join(json.dumps({"id": f"t{i}", "dimension": "correctness", "winner": "tie"}) for i in range(4))
    )
    cfg = Config(
        root=project,
        model=ModelConfig(base=str(tiny_model_dir)),
        eval=EvalConfig(
            arms=["base", "prompted", "retrieval", "rag", "fine_tuned", "fine_tuned_rag", "endpoint"],
            max_new_tokens=4,
            batch_size=4,
            shots=2,
            rag_k=2,
            endpoint=EndpointConfig(base_url=openai_stub.url, model="stub-model", concurrency=2),
            prices={
                "endpoint": PriceConfig(prompt_per_1m=1.0, completion_per_1m=2.0),
                "base": PriceConfig(per_hour=3.6),
            },
            blocklist=["guaranteed refund"],
            judge=JudgeConfig(
                base_url=openai_stub.url,
                model="stub-judge",
                rubric={"correctness": "Which is more correct?"},
                arm="endpoint",
                human_labels="human.jsonl",
            ),
        ),
    )
    result = evaluate(cfg, dataset_dir=project / "dataset", train_dir=project / "train", out_dir=project / "eval")
    assert isinstance(result.results, EvalResults) and result.gates == result.results.gates
    return result.results.to_json()  # the content of results.json, which the tests below read by key


def test_every_arm_is_scored_and_written(evaluated: dict[str, Any], project: Path) -> None:
    assert list(evaluated["arms"]) == [
        "base",
        "prompted",
        "retrieval",
        "rag",
        "fine_tuned",
        "fine_tuned_rag",
        "endpoint",
    ]
    for ex in evaluated["examples"]:
        assert set(ex["arms"]) == set(evaluated["arms"])
    for name in ("results.json", "report.html", "summary.md", "manifest.json"):
        assert (project / "eval" / name).exists()
    written = json.loads((project / "eval" / "results.json").read_text())
    assert written["reference_arm"] == "base"
    assert written == evaluated  # the model returned is the file written


def test_the_evaluation_writes_its_model_card(evaluated: dict[str, Any], project: Path) -> None:
    """model_card.md beside results.json, in the manifest's outputs; this fixture's dataset has no manifest, and
    the card says so rather than inventing counts."""
    card = (project / "eval" / "model_card.md").read_text(encoding="utf-8")
    for section in ("## Verdict", "## Intended use", "## Data", "## Personal data", "## Training", "## Evaluation"):
        assert section in card
    assert "## Known limits" in card and "## Lineage" in card
    assert f"> {SYSTEM}" in card and "The figures come from 4 test examples" in card
    assert "| fine_tuned_rag |" in card and "No dataset manifest" in card
    manifest = json.loads((project / "eval" / "manifest.json").read_text())
    assert "model_card.md" in manifest["outputs"]


def test_local_arms_measure_one_request_alone(evaluated: dict[str, Any], project: Path) -> None:
    """Per-request latency and time to first token, apart from the batch; not for retrieval or the endpoint."""
    arms = evaluated["arms"]
    for arm in ("base", "prompted", "rag", "fine_tuned", "fine_tuned_rag"):
        single = arms[arm]["single_request"]
        assert single["n"] == 3
        assert 0 < single["first_token_p50_ms"] <= single["p50_ms"] <= single["max_ms"]
    assert "single_request" not in arms["retrieval"] and "single_request" not in arms["endpoint"]
    assert "One request alone" in (project / "eval" / "report.html").read_text()


def test_prompted_and_rag_count_their_extra_prompt_tokens(evaluated: dict[str, Any]) -> None:
    arms = evaluated["arms"]
    assert "extra_prompt_mean" not in arms["base"]["tokens"]
    for arm in ("prompted", "rag", "fine_tuned_rag"):
        extra = arms[arm]["tokens"]["extra_prompt_mean"]
        assert extra > 20, arm  # two shots or two passages cost tokens
        assert arms[arm]["tokens"]["prompt_mean"] == pytest.approx(arms["base"]["tokens"]["prompt_mean"] + extra)


def test_endpoint_behaviour_metrics_on_the_fixture(evaluated: dict[str, Any]) -> None:
    # The stub answers the return question, and says "I don't know" to everything else:
    m = evaluated["arms"]["endpoint"]["metrics"]
    assert m["abstention"] == 1.0 and m["hallucination"] == 0.0  # the out-of-scope question: declined
    assert m["over_refusal"] == pytest.approx(2 / 3)  # answerable: returns (answered), shipping + negative
    assert m["policy_compliance"] == 1.0  # the negative example was declined, with no blocklisted phrase
    assert m["blocklist_violation"] == 0.0
    assert evaluated["arms"]["endpoint"]["n"]["abstention"] == 1
    first = evaluated["examples"][0]["arms"]["endpoint"]
    assert first["metrics"]["exact_match"] == 1.0 and first["metrics"]["style_match"] == pytest.approx(1.0)


def test_costs_follow_the_configured_prices(evaluated: dict[str, Any]) -> None:
    endpoint = evaluated["arms"]["endpoint"]
    tokens = endpoint["tokens"]
    expected = 1000 * (tokens["prompt_mean"] * 1.0 + tokens["completion_mean"] * 2.0) / 1e6
    assert endpoint["cost_per_1k_requests"] == pytest.approx(expected)
    base = evaluated["arms"]["base"]
    assert base["cost_per_1k_requests"] == pytest.approx(3.6 * 1000 / base["throughput_rps"] / 3600)
    assert "cost_per_1k_requests" not in evaluated["arms"]["fine_tuned"]


def test_forgetting_check_on_an_unchanged_model(evaluated: dict[str, Any]) -> None:
    f = evaluated["forgetting"]
    assert f["base_perplexity"] > 1 and f["rise"] == pytest.approx(0.0, abs=1e-4)
    assert f["flagged"] is False


def test_judge_runs_both_orders_and_cancels_position_bias(evaluated: dict[str, Any], openai_stub) -> None:
    judge_requests = [r for r in openai_stub.requests if r["model"] == "stub-judge"]
    assert len(judge_requests) == 4 * 2 and all(r["temperature"] == 0 for r in judge_requests)
    d = evaluated["judge"]["dimensions"]["correctness"]
    # The stub always says A: each arm wins once per pair, so every verdict is a tie and no order agrees.
    assert d["win_rate"] == 0.5 and d["position_consistency"] == 0.0 and d["unparsed"] == 0
    assert {ex["judge"]["correctness"]["verdict"] for ex in evaluated["examples"]} == {"tie"}
    assert d["human_n"] == 4 and d["kappa"] is None  # both raters constant: kappa is undefined


def test_endpoint_arm_sends_the_key_from_the_environment(openai_stub, monkeypatch) -> None:
    monkeypatch.setenv("STUB_KEY", "sk-test")
    cfg = EndpointConfig(base_url=openai_stub.url + "/", model="m", api_key_env="STUB_KEY")
    convs = [[{"role": "user", "content": "Can I return this?"}], [{"role": "user", "content": "Hi?"}]]
    preds = endpoint_predictions(cfg, convs, max_new_tokens=7)
    assert [p.text for p in preds] == [
        "You can return any item within 30 days for a full refund.",
        "I don't know, please contact our support team.",
    ]
    assert preds[0].prompt_tokens == 10 and preds[0].completion_tokens == 12
    last = openai_stub.requests[-1]
    assert last["auth"] == "Bearer sk-test" and last["max_tokens"] == 7 and last["path"] == "/v1/chat/completions"
    monkeypatch.delenv("STUB_KEY")
    with pytest.raises(ConfigError, match="STUB_KEY is not set"):
        endpoint_predictions(cfg, convs, max_new_tokens=7)


def test_cost_per_1k_requests_by_hand() -> None:
    assert cost_per_1k_requests(PriceConfig(prompt_per_1m=2, completion_per_1m=10), 500, 100, 1.0) == 2.0
    # 2 requests/s: 1,000 requests take 500 s; at 7.2 per hour that is 1.0.
    assert cost_per_1k_requests(PriceConfig(per_hour=7.2), 0, 0, 2.0) == pytest.approx(1.0)
    assert cost_per_1k_requests(PriceConfig(), 500, 100, 1.0) is None


def test_a_failing_gate_exits_1_and_compare_and_export_work(project: Path, capsys) -> None:
    config = project / "tunesmith.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "project": {"artifacts": "art"},
                "eval": {"arms": ["retrieval"], "reference_arm": "retrieval", "forgetting": False},
            }
        )
    )
    (project / "art").mkdir(exist_ok=True)
    (project / "art" / "dataset").symlink_to(project / "dataset")
    args = ["eval", str(config), "--set", "eval.limit=3"]
    assert main([*args, "--gate", "retrieval.rougeL >= 0.2"]) == 0
    first = project / "first"
    (project / "art" / "eval").rename(first)
    capsys.readouterr()
    assert main([*args, "--gate", "retrieval.exact_match >= 0.99"]) == 1
    assert "FAILED: retrieval.exact_match >= 0.99" in capsys.readouterr().out.replace("\n", "")

    assert main(["eval", "compare", str(first), str(project / "art" / "eval"), "--json"]) == 0
    delta = json.loads(capsys.readouterr().out)["arms"]["retrieval"]["rougeL"]
    assert delta["delta"] == 0.0 and delta["ci"] == [0.0, 0.0]  # the same deterministic arm twice

    assert main(["eval", "export-lm-eval", str(config), "--out", str(project / "lm"), "--task", "Acme Support"]) == 0
    spec = yaml.safe_load((project / "lm" / "acme_support.yaml").read_text())
    assert spec["task"] == "acme_support" and spec["output_type"] == "generate_until"
    data = [json.loads(x) for x in Path(spec["dataset_kwargs"]["data_files"]["test"]).read_text().splitlines()]
    assert [d["answer"] for d in data] == [a for _, a, _ in TEST] and data[2]["tags"] == ["out_of_scope"]


def test_test_cases_score_the_last_text_answer_and_keep_tool_steps(tmp_path):
    """A test conversation that ends with a tool call was a KeyError (or a crash at scoring): the reference is
    the last text answer, the prompt keeps the tool steps, and an example without a text answer is left out."""
    from tunesmith.evals.runner import load_test_cases

    call = {"id": "c1", "type": "function", "function": {"name": "find_order", "arguments": '{"order": "LH-1"}'}}
    rows = [
        {
            "messages": [
                {"role": "user", "content": "Where is LH-1?"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'},
                {"role": "assistant", "content": "It shipped today."},
                {"role": "user", "content": "And LH-2?"},
                {"role": "assistant", "content": "", "tool_calls": [call]},
            ],
            "meta": {"id": "a"},
        },
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "", "tool_calls": [call]}]},
    ]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    [case] = load_test_cases(path)
    assert case.reference == "It shipped today."
    assert [m["role"] for m in case.prompt] == ["user", "assistant", "tool"]
    assert case.prompt[1]["tool_calls"] == [call] and case.prompt[2]["tool_call_id"] == "c1"
