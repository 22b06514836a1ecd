"""`tunesmith eval`: every arm answers the same frozen test split, and we compare them with paired statistics.

The arms (see arms.ARM_DESCRIPTIONS) run in groups that share a model, so at most one model is in memory:
retrieval and endpoint need none, then base, prompted and rag share the base model, then fine_tuned and
fine_tuned_rag share the fine-tuned one. The forgetting check measures perplexity on each while it is loaded.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tunesmith.artifacts import atomic_dir, read_jsonl, sha256_file, write_json_atomic, write_manifest
from tunesmith.config import Config, EvalConfig, PriceConfig
from tunesmith.data.stage import ensure_dataset
from tunesmith.errors import ConfigError, DataError
from tunesmith.evals import metrics as M
from tunesmith.evals.arms import (
    ARM_DESCRIPTIONS,
    BASE_MODEL_ARMS,
    FINE_TUNED_ARMS,
    last_user,
    pair_passages,
    prompted_conversations,
    rag_conversations,
    training_pairs,
)
from tunesmith.evals.gates import GateResult, check_gate
from tunesmith.evals.generation import single_request_latency
from tunesmith.evals.report import render_report, render_summary_md
from tunesmith.evals.results import (
    ArmResult,
    Dataset,
    EvalResults,
    Example,
    JudgeSummary,
    Latency,
    Lineage,
    Preference,
    SingleRequest,
    Tokens,
)
from tunesmith.evals.stats import aggregate, slices
from tunesmith.models.chat import end_of_turn_ids, render
from tunesmith.models.generation import Prediction, generate
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.records import as_conversation
from tunesmith.train.runs import require_training_run


@dataclass
class TestCase:
    id: str
    tags: list[str]
    prompt: list[dict[str, str]]  # the conversation up to the last assistant turn
    reference: str


def load_test_cases(path: Path, limit: int | None = None) -> list[TestCase]:
    """The test split as cases: the conversation up to its last text answer, and that answer as the reference.

    A final assistant turn that only calls a tool has no text to score: the reference is the last answer with text
    before it, and an example with no such answer is left out (the text metrics cannot score a call).
    """
    if not path.exists():
        raise DataError(f"no test split at {path}", hint="run the prepare stage first (tunesmith run --only prepare)")
    cases = []
    for i, row in enumerate(read_jsonl(path), 1):
        msgs = as_conversation(row)["messages"]  # a preference pair: its chosen answer is the reference
        answers = [k for k, m in enumerate(msgs) if m["role"] == "assistant" and (m.get("content") or "").strip()]
        if not answers:
            continue
        last = answers[-1]
        meta = row.get("meta", {})
        cases.append(
            TestCase(
                str(meta.get("id", f"test-{i}")),
                [str(tag) for tag in meta.get("tags", [])],  # labels: results.json types them as strings
                [{k: v for k, v in m.items() if k != "weight"} for m in msgs[:last]],
                msgs[last]["content"],
            )
        )
    if not cases and path.stat().st_size:
        raise DataError(
            f"no test example in {path} ends with a text answer",
            file=path,
            hint="the evaluation scores text answers; a test set of tool calls only cannot be scored yet",
        )
    return cases[:limit] if limit else cases


def retrieval_arm(train_rows: list[dict], cases: list[TestCase]) -> list[Prediction]:
    import bm25s

    pairs = training_pairs(train_rows)
    retriever = bm25s.BM25()
    corpus = [p.question for p in pairs]
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    preds = []
    for case in cases:
        t0 = time.perf_counter()
        query = bm25s.tokenize([last_user(case.prompt)], stopwords="en", return_ids=False, show_progress=False)
        if query[0]:
            idx, _ = retriever.retrieve(query, k=1, show_progress=False)
            answer = pairs[int(idx[0][0])].answer
        else:  # nothing to match on (a query of stopwords only)
            answer = ""
        preds.append(Prediction(answer, 0, 0, (time.perf_counter() - t0) * 1000))
    return preds


def _load_fine_tuned(base: str, cfg: Config, train_dir: Path) -> Any:
    if (train_dir / "adapter").exists():
        from peft import PeftModel

        # The model the adapter was trained on, as the run's manifest records it: a DPO run over a full SFT model
        # (train.init_from) has that model as its base, not model.base.
        resolved = (_json_or_empty(train_dir / "manifest.json").get("base_model") or {}).get("resolved")
        start = resolved if resolved and resolved != base and Path(resolved).is_dir() else base
        model = load_model(start, revision=cfg.model.revision if start == base else None)
        return PeftModel.from_pretrained(model, str(train_dir / "adapter")).merge_and_unload()
    if (train_dir / "model").exists():
        return load_model(str(train_dir / "model"))
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


def cost_per_1k_requests(
    price: PriceConfig, prompt_mean: float, completion_mean: float, throughput_rps: float
) -> float | None:
    """Token prices count each request's tokens; an hourly price counts the machine time 1,000 requests take.

    Both can be set (a rented GPU plus a per-token licence): they add up. None when no price is set.
    """
    parts = []
    if price.prompt_per_1m is not None or price.completion_per_1m is not None:
        per_request = prompt_mean * (price.prompt_per_1m or 0) + completion_mean * (price.completion_per_1m or 0)
        parts.append(1000 * per_request / 1e6)
    if price.per_hour is not None and throughput_rps > 0:
        parts.append(price.per_hour * (1000 / throughput_rps) / 3600)
    return sum(parts) if parts else None


def _efficiency(preds: list[Prediction], wall_s: float, price: PriceConfig | None) -> dict[str, Any]:
    """An arm's tokens, latency, throughput, and its cost when it has a price: the ArmResult fields of its cost."""
    lat = np.array([p.latency_ms for p in preds])
    prompt_mean = float(np.mean([p.prompt_tokens for p in preds]))
    completion_mean = float(np.mean([p.completion_tokens for p in preds]))
    rps = len(preds) / max(wall_s, 1e-9)
    eff: dict[str, Any] = {
        "tokens": Tokens(prompt_mean=prompt_mean, completion_mean=completion_mean),
        "latency_ms": Latency(p50=float(np.percentile(lat, 50)), p95=float(np.percentile(lat, 95))),
        "throughput_rps": rps,
    }
    if price is not None:
        eff["cost_per_1k_requests"] = cost_per_1k_requests(price, prompt_mean, completion_mean, rps)
    return eff


def _check_config(ec: EvalConfig) -> None:
    if ec.reference_arm not in ec.arms:
        raise DataError(
            f"eval.reference_arm '{ec.reference_arm}' is not one of eval.arms {ec.arms}",
            hint="add it to eval.arms or choose another reference arm",
        )
    if "endpoint" in ec.arms and ec.endpoint is None:
        raise ConfigError(
            "the endpoint arm needs eval.endpoint",
            hint="set eval.endpoint: {base_url: http://HOST/v1, model: NAME, api_key_env: MY_API_KEY}",
        )
    unknown = [arm for arm in ec.prices if arm not in ec.arms]
    if unknown:
        raise ConfigError(f"eval.prices names arm(s) {unknown} that are not in eval.arms {ec.arms}")
    if ec.judge is not None and ec.judge.arm not in ec.arms:
        raise ConfigError(f"eval.judge.arm '{ec.judge.arm}' is not one of eval.arms {ec.arms}")


def _arm_conversations(
    cfg: Config, cases: list[TestCase], train_rows: list[dict]
) -> dict[str, list[list[dict[str, str]]]]:
    """The prompt of every generating arm: the test conversation itself, or it with shots or passages added."""
    from tunesmith.evals.retrieval import HybridRetriever, load_documents

    ec = cfg.eval
    plain = [c.prompt for c in cases]
    convs = {arm: plain for arm in ("base", "fine_tuned", "sft", "endpoint")}
    pairs = training_pairs(train_rows)
    wants_rag = {"rag", "fine_tuned_rag"} & set(ec.arms)
    similar_shots = "prompted" in ec.arms and ec.shots and ec.shot_selection == "similar"
    needs_index = similar_shots or (wants_rag and not ec.rag_documents)
    questions = HybridRetriever([p.question for p in pairs]) if needs_index else None
    if "prompted" in ec.arms:
        convs["prompted"] = prompted_conversations(
            plain,
            pairs,
            instructions=ec.prompt,
            shots=ec.shots,
            selection=ec.shot_selection,
            retriever=questions,
            seed=cfg.project.seed,
        )
    if wants_rag:
        if ec.rag_documents:
            passages = load_documents(cfg.path(ec.rag_documents), ec.rag_chunk_words)
            retriever = HybridRetriever(passages)
        else:
            passages, retriever = pair_passages(pairs), questions
        with_passages = rag_conversations(plain, passages, retriever, ec.rag_k)
        convs["rag"] = convs["fine_tuned_rag"] = with_passages
    return convs


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
    progress: Progress,
    single: dict[str, SingleRequest],
) -> dict[str, tuple[list[Prediction], float]]:
    """Predictions and generation wall time of each arm that runs on this model; `single` gets the one-at-a-time
    latencies of the first `eval.latency_sample` prompts."""
    eos = end_of_turn_ids(tokenizer, generation_eos(model))
    out = {}
    for arm in arms:
        if ec.latency_sample:
            sample = single_request_latency(
                model, tokenizer, convs[arm][: ec.latency_sample], max_new_tokens=ec.max_new_tokens, eos_ids=eos
            )
            total = np.array([s.total_ms for s in sample])
            first = np.array([s.first_token_ms for s in sample])
            single[arm] = SingleRequest(
                n=len(sample),
                p50_ms=float(np.percentile(total, 50)),
                max_ms=float(total.max()),
                first_token_p50_ms=float(np.percentile(first, 50)),
                tokens_per_s=float(sum(s.completion_tokens for s in sample) / max(total.sum() / 1000, 1e-9)),
            )
        t0 = time.perf_counter()
        preds = generate(
            model,
            tokenizer,
            convs[arm],
            max_new_tokens=ec.max_new_tokens,
            batch_size=ec.batch_size,
            eos_ids=eos,
            progress=progress,
            label=arm,
        )
        out[arm] = (preds, time.perf_counter() - t0)
    return out


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
    from tunesmith.evals.forgetting import forgetting_verdict, general_text, perplexity

    console = console or Console()
    ec = cfg.eval
    train_dir = train_dir or cfg.stage_dir("train")
    out_dir = out_dir or cfg.stage_dir("eval")
    started = datetime.now(UTC)
    _check_config(ec)
    if cfg.train.backend == "local" and any(a in FINE_TUNED_ARMS for a in ec.arms):
        require_training_run(train_dir)  # before any work (a vendor run is checked by eval_endpoints)
    dataset_dir = dataset_dir or ensure_dataset(cfg)
    cases = load_test_cases(dataset_dir / "test.jsonl", ec.limit)
    train_rows = [as_conversation(r) for r in read_jsonl(dataset_dir / "train.jsonl")]
    convs = _arm_conversations(cfg, cases, train_rows)

    base_arms = [a for a in ec.arms if a in BASE_MODEL_ARMS]
    ft_arms = [a for a in ec.arms if a in FINE_TUNED_ARMS]
    sft_run = _sft_run(cfg) if "sft" in ec.arms else None
    # A vendor backend: the base-model arms call the vendor's base model, the fine-tuned arms the vendor's
    # fine-tune, both through the endpoint client; there is no local model (nor a perplexity to compare).
    vendor = None
    if cfg.train.backend != "local" and (base_arms or ft_arms):
        from tunesmith.train.vendor import eval_endpoints

        vendor = eval_endpoints(cfg, train_dir, need_fine_tuned=bool(ft_arms))
    check_forgetting = ec.forgetting and bool(ft_arms) and vendor is None
    base = ensure_base_model(cfg) if (base_arms or ft_arms or sft_run) and vendor is None else None
    tokenizer = load_tokenizer(base, revision=cfg.model.revision) if base else None
    runs: dict[str, tuple[list[Prediction], float]] = {}
    single: dict[str, SingleRequest] = {}
    ppl: dict[str, float] = {}
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        if "retrieval" in ec.arms:
            t0 = time.perf_counter()
            runs["retrieval"] = (retrieval_arm(train_rows, cases), time.perf_counter() - t0)
        if "endpoint" in ec.arms:
            from tunesmith.evals.endpoint import endpoint_predictions

            t0 = time.perf_counter()
            preds = endpoint_predictions(ec.endpoint, convs["endpoint"], max_new_tokens=ec.max_new_tokens)
            runs["endpoint"] = (preds, time.perf_counter() - t0)
        if vendor is not None:
            from tunesmith.evals.endpoint import endpoint_predictions

            for arm in base_arms + ft_arms:
                t0 = time.perf_counter()
                endpoint = vendor["base" if arm in BASE_MODEL_ARMS else "fine_tuned"]
                preds = endpoint_predictions(endpoint, convs[arm], max_new_tokens=ec.max_new_tokens)
                runs[arm] = (preds, time.perf_counter() - t0)
            base_arms, ft_arms = [], []
        if base_arms or check_forgetting:
            model = load_model(base, revision=cfg.model.revision)
            runs.update(_generate_group(model, tokenizer, base_arms, convs, ec, progress, single))
            if check_forgetting:
                ppl["base"] = perplexity(model, tokenizer, general_text())
            del model
        if ft_arms:
            model = _load_fine_tuned(base, cfg, train_dir)
            runs.update(_generate_group(model, tokenizer, ft_arms, convs, ec, progress, single))
            if check_forgetting:
                ppl["fine_tuned"] = perplexity(model, tokenizer, general_text())
            del model
        if sft_run is not None:
            model = _load_fine_tuned(base, cfg, sft_run)
            runs.update(_generate_group(model, tokenizer, ["sft"], convs, ec, progress, single))
            del model

    console.print("scoring answers (ROUGE-L, chrF, semantic similarity)...")
    refs = [c.reference for c in cases]
    # Plain rows while scoring: the statistics and the judge read them; they become Example models below.
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

    arm_stats = aggregate(examples, list(ec.arms), ec.reference_arm, seed=cfg.project.seed)
    plain_prompt = _mean_prompt_tokens(tokenizer, [c.prompt for c in cases]) if tokenizer else None
    arms: dict[str, ArmResult] = {}
    for arm in ec.arms:
        preds, wall_s = runs[arm]
        cost = _efficiency(preds, wall_s, ec.prices.get(arm))
        if plain_prompt is not None and arm in ("prompted", "rag", "fine_tuned_rag"):
            cost["tokens"].extra_prompt_mean = cost["tokens"].prompt_mean - plain_prompt
        if arm in single:
            cost["single_request"] = single[arm]
        arms[arm] = ArmResult(**arm_stats[arm], **cost, description=ARM_DESCRIPTIONS[arm])
    metric_names = [m for m in M.METRICS if any(m in arms[a].metrics for a in ec.arms)]
    test_path = dataset_dir / "test.jsonl"
    inputs = [test_path, dataset_dir / "train.jsonl"]
    judge = None
    if ec.judge is not None:
        from tunesmith.evals.judge import load_human_labels, run_judge

        console.print(f"judging {ec.judge.arm} against {ec.reference_arm} with {ec.judge.model}...")
        labels = None
        if ec.judge.human_labels:
            labels_path = cfg.path(ec.judge.human_labels)
            labels = load_human_labels(labels_path, ec.judge.arm, ec.reference_arm)
            inputs.append(labels_path)
        summary = run_judge(ec.judge, examples, ec.reference_arm, human_labels=labels, seed=cfg.project.seed)
        judge = JudgeSummary.model_validate(summary)  # after run_judge, which adds each example's verdicts
    results = EvalResults(
        title=f"{cfg.project.name}: fine-tuned vs baselines",
        created_at=started.isoformat(),
        reference_arm=ec.reference_arm,
        headline_metric="rougeL",
        metrics=metric_names,
        arms=arms,
        slices=slices(examples, list(ec.arms)),
        examples=[Example.model_validate(ex) for ex in examples],
        dataset=Dataset(path=str(test_path), sha256=sha256_file(test_path), n_test=len(cases)),
        lineage=_lineage(dataset_dir, train_dir, base if vendor is None else cfg.model.base),
        gates=[],
    )
    # Optional parts are assigned only when they apply, so that results.json leaves them out otherwise.
    if ppl:
        results.forgetting = forgetting_verdict(ppl["base"], ppl["fine_tuned"], ec.forgetting_max_rise)
    if judge is not None:
        results.judge = judge
    preference = _preference(train_dir) if ft_arms and vendor is None else None
    if preference is not None:
        results.preference = preference
    results.gates = [check_gate(g, results) for g in [*ec.gates, *(gates or [])]]

    with atomic_dir(out_dir) as tmp:
        write_json_atomic(tmp / "results.json", results.to_json())
        render_report(results, tmp / "report.html")
        (tmp / "summary.md").write_text(render_summary_md(results), encoding="utf-8")
        write_manifest(
            tmp,
            stage="eval",
            config=cfg.to_dict(),
            inputs=inputs,
            counts={"test_examples": len(cases), "arms": len(ec.arms)},
            started_at=started,
            extra={"lineage": dict(results.lineage.items())},
        )
    return EvalResult(out_dir, results, results.gates)


def _mean_prompt_tokens(tokenizer: Any, conversations: list[list[dict[str, str]]]) -> float:
    """Prompt tokens of the plain test conversations: the baseline for the extra tokens of shots and passages."""
    texts = [render(tokenizer, c, add_generation_prompt=True) for c in conversations]
    return float(np.mean([len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]))


def _lineage(dataset_dir: Path, train_dir: Path, base: str | None) -> Lineage:
    lineage: dict[str, Any] = {
        "base_model": base,
        "dataset_dir": str(dataset_dir),
        "train_dir": str(train_dir),
    }
    for name, d in (("dataset", dataset_dir), ("train", train_dir)):
        manifest = d / "manifest.json"
        if manifest.exists():
            lineage[f"{name}_manifest_sha256"] = sha256_file(manifest)
            if name == "dataset":
                lineage["dataset_hash"] = json.loads(manifest.read_text()).get("dataset_hash")
            vendor = json.loads(manifest.read_text()).get("vendor") if name == "train" else None
            if isinstance(vendor, dict):  # a vendor run: the fine_tuned arm is the vendor's model
                lineage["vendor"] = {k: vendor.get(k) for k in ("backend", "job_id", "model_id")}
    return Lineage(**lineage)
