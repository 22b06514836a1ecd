"""`tunesmith eval`: every arm answers the same frozen test split, and we compare them with paired statistics.

Arms in this module:
- base: the base model with the conversation's own system prompt;
- retrieval: no generation; answers with the assistant reply of the most similar training prompt (BM25). It is
  the honest baseline for FAQ-style data: a fine-tune that cannot beat a lookup table has not paid off;
- fine_tuned: the base model with the trained adapter merged (or the fully fine-tuned model).
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
from tunesmith.config import Config
from tunesmith.errors import DataError
from tunesmith.evals import metrics as M
from tunesmith.evals.gates import GateResult, check_gate
from tunesmith.evals.generation import Prediction, generate
from tunesmith.evals.report import render_report, render_summary_md
from tunesmith.evals.stats import aggregate, slices
from tunesmith.models.loading import ensure_base_model, generation_eos, load_model, load_tokenizer
from tunesmith.train.masking import end_of_turn_ids

ARM_DESCRIPTIONS = {
    "base": "The base model with the project's system prompt.",
    "retrieval": "No model: the answer of the most similar training question (BM25).",
    "fine_tuned": "The fine-tuned model with the same short prompt.",
}


@dataclass
class TestCase:
    id: str
    tags: list[str]
    prompt: list[dict[str, str]]  # the conversation up to the last assistant turn
    reference: str


def load_test_cases(path: Path, limit: int | None = None) -> list[TestCase]:
    if not path.exists():
        raise DataError(
            f"no test split at {path}", hint="run the prepare stage first (tunesmith run --only prepare)"
        )
    cases = []
    for i, row in enumerate(read_jsonl(path), 1):
        msgs = row["messages"]
        last = max(k for k, m in enumerate(msgs) if m["role"] == "assistant")
        meta = row.get("meta", {})
        cases.append(
            TestCase(
                str(meta.get("id", f"test-{i}")),
                list(meta.get("tags", [])),
                [{"role": m["role"], "content": m["content"]} for m in msgs[:last]],
                msgs[last]["content"],
            )
        )
    return cases[:limit] if limit else cases


def _last_user(messages: list[dict[str, str]]) -> str:
    return next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")


def retrieval_arm(train_rows: list[dict], cases: list[TestCase]) -> list[Prediction]:
    import bm25s

    corpus, answers = [], []
    for row in train_rows:
        msgs = row["messages"]
        last = max((k for k, m in enumerate(msgs) if m["role"] == "assistant"), default=None)
        if last is not None:
            corpus.append(_last_user(msgs[:last]))
            answers.append(msgs[last]["content"])
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(corpus, stopwords="en", show_progress=False), show_progress=False)
    preds = []
    for case in cases:
        t0 = time.perf_counter()
        query = bm25s.tokenize(
            [_last_user(case.prompt)], stopwords="en", return_ids=False, show_progress=False
        )
        if query[0]:
            idx, _ = retriever.retrieve(query, k=1, show_progress=False)
            answer = answers[int(idx[0][0])]
        else:  # nothing to match on (a query of stopwords only)
            answer = ""
        preds.append(Prediction(answer, 0, 0, (time.perf_counter() - t0) * 1000))
    return preds


def _load_fine_tuned(base: str, cfg: Config, train_dir: Path) -> Any:
    if (train_dir / "adapter").exists():
        from peft import PeftModel

        model = load_model(base, revision=cfg.model.revision)
        return PeftModel.from_pretrained(model, str(train_dir / "adapter")).merge_and_unload()
    if (train_dir / "model").exists():
        return load_model(str(train_dir / "model"))
    raise DataError(
        f"no trained model in {train_dir}", hint="run the train stage first (tunesmith run --only train)"
    )


def _efficiency(preds: list[Prediction], wall_s: float) -> dict[str, Any]:
    lat = np.array([p.latency_ms for p in preds])
    return {
        "tokens": {
            "prompt_mean": float(np.mean([p.prompt_tokens for p in preds])),
            "completion_mean": float(np.mean([p.completion_tokens for p in preds])),
        },
        "latency_ms": {"p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95))},
        "throughput_rps": len(preds) / max(wall_s, 1e-9),
    }


@dataclass
class EvalResult:
    out_dir: Path
    results: dict[str, Any]
    gates: list[GateResult]


def evaluate(
    cfg: Config,
    *,
    dataset_dir: Path | None = None,
    train_dir: Path | None = None,
    out_dir: Path | None = None,
    gates: list[str] | None = None,
    console: Console | None = None,
) -> EvalResult:
    console = console or Console()
    ec = cfg.eval
    dataset_dir = dataset_dir or cfg.stage_dir("dataset")
    train_dir = train_dir or cfg.stage_dir("train")
    out_dir = out_dir or cfg.stage_dir("eval")
    started = datetime.now(UTC)
    if ec.reference_arm not in ec.arms:
        raise DataError(
            f"eval.reference_arm '{ec.reference_arm}' is not one of eval.arms {ec.arms}",
            hint="add it to eval.arms or choose another reference arm",
        )
    cases = load_test_cases(dataset_dir / "test.jsonl", ec.limit)
    train_rows = read_jsonl(dataset_dir / "train.jsonl")

    base = ensure_base_model(cfg)
    tokenizer = load_tokenizer(base, revision=cfg.model.revision)
    predictions: dict[str, list[Prediction]] = {}
    efficiency: dict[str, dict[str, Any]] = {}
    conversations = [c.prompt for c in cases]
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        for arm in ec.arms:
            t0 = time.perf_counter()
            if arm == "retrieval":
                preds = retrieval_arm(train_rows, cases)
            else:
                model = (
                    load_model(base, revision=cfg.model.revision)
                    if arm == "base"
                    else _load_fine_tuned(base, cfg, train_dir)
                )
                eos = end_of_turn_ids(tokenizer, generation_eos(model))
                preds = generate(
                    model,
                    tokenizer,
                    conversations,
                    max_new_tokens=ec.max_new_tokens,
                    batch_size=ec.batch_size,
                    eos_ids=eos,
                    progress=progress,
                    label=arm,
                )
                del model
            predictions[arm] = preds
            efficiency[arm] = _efficiency(preds, time.perf_counter() - t0)

    console.print("scoring answers (ROUGE-L, chrF, semantic similarity)...")
    refs = [c.reference for c in cases]
    examples: list[dict[str, Any]] = [
        {"id": c.id, "tags": c.tags, "prompt": _last_user(c.prompt), "reference": c.reference, "arms": {}}
        for c in cases
    ]
    for arm, preds in predictions.items():
        sims = M.semantic_similarity([p.text for p in preds], refs)
        for ex, case, pred, sim in zip(examples, cases, preds, sims, strict=True):
            scores = {
                **M.score_example(pred.text, case.reference),
                "semantic_sim": float(sim),
                **M.behaviour_flags(pred.text, case.tags),
            }
            ex["arms"][arm] = {"prediction": pred.text, "metrics": scores}

    arm_stats = aggregate(examples, list(ec.arms), ec.reference_arm, seed=cfg.project.seed)
    for arm in ec.arms:
        arm_stats[arm].update(efficiency[arm], description=ARM_DESCRIPTIONS[arm])
    metric_names = [m for m in M.METRICS if any(m in arm_stats[a]["metrics"] for a in ec.arms)]
    test_path = dataset_dir / "test.jsonl"
    results: dict[str, Any] = {
        "title": f"{cfg.project.name}: fine-tuned vs baselines",
        "created_at": started.isoformat(),
        "reference_arm": ec.reference_arm,
        "headline_metric": "rougeL",
        "metrics": metric_names,
        "arms": arm_stats,
        "slices": slices(examples, list(ec.arms)),
        "examples": examples,
        "dataset": {"path": str(test_path), "sha256": sha256_file(test_path), "n_test": len(cases)},
        "lineage": _lineage(dataset_dir, train_dir, base),
    }
    gate_results = [check_gate(g, results) for g in [*ec.gates, *(gates or [])]]
    results["gates"] = [g.__dict__ for g in gate_results]

    with atomic_dir(out_dir) as tmp:
        write_json_atomic(tmp / "results.json", results)
        render_report(results, tmp / "report.html")
        (tmp / "summary.md").write_text(render_summary_md(results), encoding="utf-8")
        write_manifest(
            tmp,
            stage="eval",
            config=cfg.to_dict(),
            inputs=[test_path, dataset_dir / "train.jsonl"],
            counts={"test_examples": len(cases), "arms": len(ec.arms)},
            started_at=started,
            extra={"lineage": results["lineage"]},
        )
    return EvalResult(out_dir, results, gate_results)


def _lineage(dataset_dir: Path, train_dir: Path, base: str) -> dict[str, Any]:
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
    return lineage
