"""`tunesmith eval`: every arm answers the same frozen test split, and we compare them with paired statistics.

The arms (see arms.ARM_DESCRIPTIONS) run in groups that share a model, so at most one model is in memory:
retrieval and endpoint need none, then base, prompted and rag share the base model, then fine_tuned and
fine_tuned_rag share the fine-tuned one. The forgetting check measures perplexity on each while it is loaded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from tunesmith.artifacts import atomic_dir, read_jsonl, sha256_file, write_json_atomic, write_manifest
from tunesmith.config import Config, EndpointConfig, EvalConfig
from tunesmith.config.gates import parse_gate
from tunesmith.data.stage import ensure_dataset
from tunesmith.errors import ConfigError, DataError
from tunesmith.evals import metrics as M
from tunesmith.evals.ab import human_preference_of
from tunesmith.evals.arms import (
    BASE_MODEL_ARMS,
    FINE_TUNED_ARMS,
    ArmPrompts,
    arm_conversations,
    arm_description,
    last_user,
    retrieval_arm,
)
from tunesmith.evals.cases import TestCase, load_test_cases
from tunesmith.evals.efficiency import efficiency, single_request
from tunesmith.evals.gates import GateResult, check_gate
from tunesmith.evals.generation import SingleLatency, single_request_latency
from tunesmith.evals.guarded import GuardPlan, guard_plan, guarded_arm, reanswer
from tunesmith.evals.lineage import lineage
from tunesmith.evals.llamacpp_arms import llamacpp_group
from tunesmith.evals.rag import RAG_ARMS, add_retrieval_time, document_corpus
from tunesmith.evals.report import render_report, render_summary_md
from tunesmith.evals.results import (
    ArmResult,
    Dataset,
    EvalResults,
    Example,
    JudgeSummary,
    Preference,
    RagCorpus,
)
from tunesmith.evals.safety import add_safety, safety_probes
from tunesmith.evals.stats import aggregate, slices
from tunesmith.models.chat import end_of_turn_ids, render
from tunesmith.models.generation import Prediction, generate
from tunesmith.models.loading import (
    Placement,
    ensure_base_model,
    generation_eos,
    inference_placement,
    load_for_inference,
    load_tokenizer,
)
from tunesmith.progress import Progress, progress
from tunesmith.records import as_conversation
from tunesmith.train.runs import require_training_run


def _load_fine_tuned(base: str, cfg: Config, train_dir: Path, placement: Placement | None = None) -> Any:
    if (train_dir / "adapter").exists():
        from peft import PeftModel

        # The model the adapter was trained on, as the run's manifest records it: a DPO run over a full SFT model
        # (train.init_from) has that model as its base, not model.base.
        resolved = (_json_or_empty(train_dir / "manifest.json").get("base_model") or {}).get("resolved")
        start = resolved if resolved and resolved != base and Path(resolved).is_dir() else base
        model = load_for_inference(start, revision=cfg.model.revision if start == base else None, placement=placement)
        return PeftModel.from_pretrained(model, str(train_dir / "adapter")).merge_and_unload()
    if (train_dir / "model").exists():
        return load_for_inference(str(train_dir / "model"), placement=placement)
    raise DataError(f"no trained model in {train_dir}", hint="run the train stage first (tunesmith run --only train)")


def _json_or_empty(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _sft_run(cfg: Config) -> Path:
    """The `sft` arm's run: the one the preference-tuned run started from."""
    if cfg.train.objective != "dpo" or cfg.train.init_from is None:
        raise ConfigError(
            "the sft arm is the SFT run a DPO run started from, and this config has none",
            hint="set train.objective: dpo and train.init_from: RUN_DIR, or remove sft from eval.arms",
        )
    if cfg.train.backend != "local":
        raise ConfigError(
            "the sft arm runs a local SFT run; it has no vendor endpoint", hint="remove sft from eval.arms"
        )
    run = cfg.path(cfg.train.init_from)
    require_training_run(run)
    return run


def _preference(train_dir: Path) -> Preference | None:
    """A DPO run's reward accuracy and margin on its held-out pairs, from its manifest."""
    manifest = _json_or_empty(train_dir / "manifest.json")
    if manifest.get("objective") != "dpo":
        return None
    counts = manifest.get("counts", {})
    return Preference.model_validate(
        {k: counts.get(k) for k in Preference.model_fields if k != "init_from"}
        | {"init_from": (manifest.get("init_from") or {}).get("path")}
    )


@dataclass
class EvalResult:
    out_dir: Path
    results: EvalResults  # what results.json holds
    gates: list[GateResult]  # results.gates


def _generate_group(
    model: Any,
    tokenizer: Any,
    arms: list[str],
    convs: dict[str, list[list[dict[str, str]]]],
    ec: EvalConfig,
    bars: Progress,
    out: _Generated,
    extra: dict[str, list[list[dict[str, str]]]],
) -> None:
    """Predictions and generation wall time of each arm that runs on this model into `out.runs`; `out.single` gets
    the one-at-a-time latencies of the first `eval.latency_sample` prompts, `out.extra` the answers to the safety
    prompts (`extra`), timed apart so that the arm's cost figures stay the test split's."""
    eos = end_of_turn_ids(tokenizer, generation_eos(model))
    answer = partial(
        generate, model, tokenizer, max_new_tokens=ec.max_new_tokens, batch_size=ec.batch_size, eos_ids=eos
    )
    for arm in arms:
        if ec.latency_sample:
            out.single[arm] = single_request_latency(
                model, tokenizer, convs[arm][: ec.latency_sample], max_new_tokens=ec.max_new_tokens, eos_ids=eos
            )
        out.runs[arm] = _timed(partial(answer, convs[arm], progress=bars, label=f"eval {arm}"))
        if arm == "fine_tuned" and out.guard is not None:
            out.reanswered = reanswer(out.guard, out.runs[arm][0], convs[arm], tokenizer, answer)
        if extra.get(arm):
            out.extra[arm] = answer(extra[arm], progress=bars, label=f"safety {arm}")


@dataclass
class _Models:
    """Where the answers come from: the arms on the base and on the fine-tuned model, the SFT run a DPO run started
    from, or a vendor's endpoints (then there is no local model, nor a perplexity to compare)."""

    base_arms: list[str]
    ft_arms: list[str]
    sft_run: Path | None
    vendor: dict[str, EndpointConfig] | None
    base: str | None
    tokenizer: Any
    check_forgetting: bool

    def all_arms(self) -> list[str]:
        return self.base_arms + self.ft_arms


def _plan_models(cfg: Config, train_dir: Path) -> _Models:
    ec = cfg.eval
    base_arms: list[str] = [a for a in ec.arms if a in BASE_MODEL_ARMS]
    ft_arms: list[str] = [a for a in ec.arms if a in FINE_TUNED_ARMS]
    sft_run = _sft_run(cfg) if "sft" in ec.arms else None
    # A vendor backend: the base-model arms call the vendor's base model, the fine-tuned arms the vendor's
    # fine-tune, both through the endpoint client.
    vendor = None
    if cfg.train.backend != "local" and (base_arms or ft_arms):
        from tunesmith.train.vendor import eval_endpoints

        vendor = eval_endpoints(cfg, train_dir, need_fine_tuned=bool(ft_arms))
    check_forgetting = ec.forgetting and bool(ft_arms) and vendor is None
    base = ensure_base_model(cfg) if (base_arms or ft_arms or sft_run) and vendor is None else None
    tokenizer = load_tokenizer(base, revision=cfg.model.revision) if base else None
    return _Models(base_arms, ft_arms, sft_run, vendor, base, tokenizer, check_forgetting)


@dataclass
class _Generated:
    runs: dict[str, tuple[list[Prediction], float]] = field(default_factory=dict)  # arm -> (answers, wall seconds)
    single: dict[str, list[SingleLatency]] = field(default_factory=dict)  # arm -> the one-at-a-time sample
    perplexity: dict[str, float] = field(default_factory=dict)  # "base", "fine_tuned": the forgetting check
    extra: dict[str, list[Prediction]] = field(default_factory=dict)  # arm -> its answers to the safety prompts
    guard: GuardPlan | None = None  # the guarded arm's scope guard: it asks fine_tuned some questions again
    reanswered: tuple[dict[int, Prediction], float] = ({}, 0.0)  # those answers by test index, and their seconds


def _timed(answer: Callable[[], list[Prediction]]) -> tuple[list[Prediction], float]:
    t0 = time.perf_counter()
    preds = answer()
    return preds, time.perf_counter() - t0


def _generate_all(
    cfg: Config,
    models: _Models,
    train_dir: Path,
    cases: list[TestCase],
    train_rows: list[dict[str, Any]],
    convs: dict[str, list[list[dict[str, str]]]],
    console: Console,
    extra: dict[str, list[list[dict[str, str]]]],
    guard: GuardPlan | None,
) -> _Generated:
    """Every arm's answers, one model in memory at a time: model-free arms first, then each model's group."""
    ec = cfg.eval
    out = _Generated(guard=guard)
    with progress(console) as bars:
        if "retrieval" in ec.arms:
            out.runs["retrieval"] = _timed(lambda: retrieval_arm(train_rows, cases))
        endpoints: dict[str, EndpointConfig] = {}
        if "endpoint" in ec.arms and ec.endpoint is not None:  # the config's load-time rule made sure it is set
            endpoints["endpoint"] = ec.endpoint
        if models.vendor is not None:
            vendor = models.vendor
            endpoints |= {a: vendor["base" if a in BASE_MODEL_ARMS else "fine_tuned"] for a in models.all_arms()}
        if endpoints:
            from tunesmith.evals.endpoint import endpoint_predictions

            for arm, endpoint in endpoints.items():
                out.runs[arm] = _timed(
                    partial(endpoint_predictions, endpoint, convs[arm], max_new_tokens=ec.max_new_tokens)
                )
                if extra.get(arm):
                    out.extra[arm] = endpoint_predictions(endpoint, extra[arm], max_new_tokens=ec.max_new_tokens)
        if models.vendor is None:
            _generate_local(cfg, models, train_dir, convs, bars, out, extra)
    return out


def _generate_local(
    cfg: Config,
    models: _Models,
    train_dir: Path,
    convs: dict[str, list[list[dict[str, str]]]],
    bars: Progress,
    out: _Generated,
    extra: dict[str, list[list[dict[str, str]]]],
) -> None:
    """The base group, then the fine-tuned group, then the SFT run; each model is dropped before the next loads."""
    from tunesmith.evals.forgetting import general_text, perplexity

    if models.base is None:  # only model-free arms
        return
    # llama.cpp generates on the CPU from an f16 GGUF of the model: written from float32 weights, not bf16 ones.
    where = inference_placement(gpu=cfg.eval.engine == "hf")
    groups: list[tuple[list[str], str | None, Callable[[], Any]]] = []
    if models.base_arms or models.check_forgetting:
        base_load = partial(load_for_inference, models.base, revision=cfg.model.revision, placement=where)
        groups.append((models.base_arms, "base", base_load))
    if models.ft_arms:
        groups.append((models.ft_arms, "fine_tuned", partial(_load_fine_tuned, models.base, cfg, train_dir, where)))
    if models.sft_run is not None:
        groups.append((["sft"], None, partial(_load_fine_tuned, models.base, cfg, models.sft_run, where)))
    for arms, measured_as, load in groups:
        model = load()
        group = llamacpp_group if cfg.eval.engine == "llamacpp" else _generate_group
        group(model, models.tokenizer, arms, convs, cfg.eval, bars, out, extra)
        if models.check_forgetting and measured_as is not None:
            out.perplexity[measured_as] = perplexity(model, models.tokenizer, general_text())
        del model


def _score(
    ec: EvalConfig,
    cases: list[TestCase],
    runs: dict[str, tuple[list[Prediction], float]],
    console: Console,
    prompts: ArmPrompts,
) -> list[dict[str, Any]]:
    """Every answer scored against its reference; a rag answer keeps the passages it was given as its sources.
    Plain rows: the statistics and the judge read them; they become Example models in results.json."""
    console.print("scoring answers (ROUGE-L, chrF, semantic similarity)...")
    refs = [c.reference for c in cases]
    examples: list[dict[str, Any]] = [
        {"id": c.id, "tags": c.tags, "prompt": last_user(c.prompt), "reference": c.reference, "arms": {}} for c in cases
    ]
    for arm in ec.arms:
        preds = runs[arm][0]
        sims = M.semantic_similarity([p.text for p in preds], refs)
        for ex, case, pred, sim in zip(examples, cases, preds, sims, strict=True):
            scores = {
                **M.score_example(pred.text, case.reference),
                "semantic_sim": float(sim),
                **M.behaviour_flags(pred.text, case.tags),
                **M.policy_flags(pred.text, case.tags, ec.blocklist),
            }
            ex["arms"][arm] = {"prediction": pred.text, "metrics": scores}
    for rag_arm in (a for a in RAG_ARMS if a in ec.arms):
        for ex, got in zip(examples, prompts.retrieved, strict=True):
            ex["arms"][rag_arm]["sources"] = got.sources()
    return examples


def _arm_results(
    cfg: Config,
    examples: list[dict[str, Any]],
    gen: _Generated,
    tokenizer: Any,
    cases: list[TestCase],
    prompts: ArmPrompts,
) -> dict[str, ArmResult]:
    """Each arm's means, intervals and paired deltas, with what its answers cost."""
    ec = cfg.eval
    arm_stats = aggregate(examples, list(ec.arms), ec.reference_arm, seed=cfg.project.seed)
    plain_prompt = _mean_prompt_tokens(tokenizer, [c.prompt for c in cases]) if tokenizer else None
    arms: dict[str, ArmResult] = {}
    for arm in ec.arms:
        preds, wall_s = gen.runs[arm]
        cost = efficiency(preds, wall_s, ec.prices.get(arm))
        if plain_prompt is not None and arm in ("prompted", "rag", "fine_tuned_rag"):
            cost["tokens"].extra_prompt_mean = cost["tokens"].prompt_mean - plain_prompt
        if arm in gen.single:
            retrieval_ms = [r.ms for r in prompts.retrieved] if arm in RAG_ARMS else []
            cost["single_request"] = single_request(gen.single[arm], retrieval_ms)
        arms[arm] = ArmResult(**arm_stats[arm], **cost, description=arm_description(arm, prompts.rag))
    return arms


def _human_labels_path(cfg: Config) -> Path | None:
    judge = cfg.eval.judge
    return cfg.path(judge.human_labels) if judge is not None and judge.human_labels else None


def _judge(cfg: Config, examples: list[dict[str, Any]], console: Console) -> JudgeSummary | None:
    ec = cfg.eval
    if ec.judge is None:
        return None
    from tunesmith.evals.judge import load_human_labels, run_judge

    console.print(f"judging {ec.judge.arm} against {ec.reference_arm} with {ec.judge.model}...")
    labels_path = _human_labels_path(cfg)
    labels = load_human_labels(labels_path, ec.judge.arm, ec.reference_arm) if labels_path else None
    summary = run_judge(ec.judge, examples, ec.reference_arm, human_labels=labels, seed=cfg.project.seed)
    return JudgeSummary.model_validate(summary)  # after run_judge, which adds each example's verdicts


def evaluate(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    train_dir: Path | None = None,
    out_dir: Path | None = None,
    gates: list[str] | None = None,
    console: Console | None = None,
) -> EvalResult:
    """Run every configured arm on the test split, score, aggregate, and write the evaluation directory."""
    from tunesmith.evals.forgetting import forgetting_verdict

    console = console or Console()
    ec = cfg.eval
    train_dir = train_dir or cfg.stage_dir("train")
    out_dir = out_dir or cfg.stage_dir("eval")
    started = datetime.now(UTC)
    for gate in gates or []:
        parse_gate(gate)  # a typo in --gate stops here, before any arm generates (eval.gates are checked at load)
    if cfg.train.backend == "local" and any(a in FINE_TUNED_ARMS for a in ec.arms):
        require_training_run(train_dir)  # before any work (a vendor run is checked by eval_endpoints)
    dataset_dir = dataset_dir or ensure_dataset(cfg)
    test_path = dataset_dir / "test.jsonl"
    cases = load_test_cases(test_path, ec.limit)
    train_rows = [as_conversation(r) for r in read_jsonl(dataset_dir / "train.jsonl")]
    # The document index before any model loads: a bad docs setup fails here, in seconds.
    documents = document_corpus(cfg, console) if set(RAG_ARMS) & set(ec.arms) else None
    prompts = arm_conversations(cfg, cases, train_rows, documents=documents)
    safety = safety_probes(cfg, cases, train_rows, documents)  # a bad red-team file fails here, before any model

    models = _plan_models(cfg, train_dir)
    plan = guard_plan(dataset_dir, cases, ec) if "guarded" in ec.arms else None
    gen = _generate_all(
        cfg, models, train_dir, cases, train_rows, prompts.convs, console, safety.convs if safety else {}, plan
    )
    add_retrieval_time(gen.runs, prompts.retrieved)
    guard = None
    if plan is not None:
        answers, wall_s, guard = guarded_arm(plan, cases, *gen.runs["fine_tuned"], *gen.reanswered)
        gen.runs["guarded"] = (answers, wall_s)
    examples = _score(ec, cases, gen.runs, console, prompts)
    arms = _arm_results(cfg, examples, gen, models.tokenizer, cases, prompts)
    if safety is not None:
        add_safety(cfg, safety, arms, cases, gen.runs, gen.extra, train_rows, guard, dataset_dir)
    judge = _judge(cfg, examples, console)
    results = EvalResults(
        title=f"{cfg.project.name}: fine-tuned vs baselines",
        created_at=started.isoformat(),
        reference_arm=ec.reference_arm,
        headline_metric="rougeL",
        metrics=[m for m in M.METRICS if any(m in arms[a].metrics for a in ec.arms)],
        arms=arms,
        slices=slices(examples, list(ec.arms)),
        examples=[Example.model_validate(ex) for ex in examples],
        dataset=Dataset(path=str(test_path), sha256=sha256_file(test_path), n_test=len(cases)),
        lineage=lineage(
            dataset_dir,
            train_dir,
            models.base if models.vendor is None else cfg.model.base,
            ec.engine if models.base is not None else None,
        ),
        gates=[],
    )
    # Optional parts are assigned only when they apply, so that results.json leaves them out otherwise.
    if gen.perplexity:
        results.forgetting = forgetting_verdict(
            gen.perplexity["base"], gen.perplexity["fine_tuned"], ec.forgetting_max_rise
        )
    if judge is not None:
        results.judge = judge
    preference = _preference(train_dir) if models.ft_arms and models.vendor is None else None
    if preference is not None:
        results.preference = preference
    if guard is not None:
        results.guard = guard
    if prompts.rag is not None:
        results.rag = RagCorpus.model_validate(prompts.rag.to_json())
    if (human := human_preference_of(cfg, results)) is not None:  # blind A/B judgments of these answers
        results.human_preference = human
    results.gates = [check_gate(g, results) for g in [*ec.gates, *(gates or [])]]
    labels = _human_labels_path(cfg)
    inputs = [test_path, dataset_dir / "train.jsonl", *([labels] if labels else []), *(safety.paths if safety else [])]
    _write(cfg, out_dir, results, inputs, started)
    return EvalResult(out_dir, results, results.gates)


def _write(cfg: Config, out_dir: Path, results: EvalResults, inputs: list[Path], started: datetime) -> None:
    from tunesmith.evals.model_card import write_model_card

    with atomic_dir(out_dir) as tmp:
        write_json_atomic(tmp / "results.json", results.to_json())
        render_report(results, tmp / "report.html")
        (tmp / "summary.md").write_text(render_summary_md(results), encoding="utf-8")
        write_model_card(results, tmp, project=cfg.project.name)
        write_manifest(
            tmp,
            stage="eval",
            config=cfg.to_dict(),
            inputs=inputs,
            counts={"test_examples": results.dataset.n_test, "arms": len(cfg.eval.arms)},
            started_at=started,
            extra={"lineage": dict(results.lineage.items())},
        )


def _mean_prompt_tokens(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> float:
    """Prompt tokens of the plain test conversations: the baseline for the extra tokens of shots and passages."""
    texts = [render(tokenizer, c, add_generation_prompt=True) for c in conversations]
    return float(np.mean([len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]))
