"""Optional LLM-as-judge: pairwise verdicts from an OpenAI-compatible model, one rubric question per dimension.

A judge reads meaning where ROUGE counts words, but it has known biases. We control the ones we can:
temperature 0 and a fixed verdict line (`VERDICT: A|B|TIE`) make it reproducible and parseable; every pair is
judged in both orders, so a preference for the first (or second) answer cancels out; and when the user has
labelled a sample by hand, Cohen's kappa says how far to trust the judge at all.
"""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tunesmith.artifacts import read_jsonl
from tunesmith.config import JudgeConfig
from tunesmith.errors import DataError
from tunesmith.evals.endpoint import chat, make_client
from tunesmith.evals.stats import bootstrap_ci

JUDGE_SYSTEM = (
    "You are an impartial judge of customer-support answers. Compare answer A and answer B to the user's "
    "question, using the reference answer as the ground truth. Ignore the order in which the answers appear "
    "and their length unless the criterion asks about it. Explain briefly, then end with exactly one line: "
    "VERDICT: A, VERDICT: B or VERDICT: TIE."
)
_VERDICT = re.compile(r"VERDICT:\s*\**\s*(A|B|TIE)\b", re.IGNORECASE)
_SCORE = {"arm": 1.0, "tie": 0.5, "reference": 0.0}


def judge_prompt(question: str, reference: str, answer_a: str, answer_b: str, criterion: str) -> str:
    return (
        f"Question:\n{question}\n\nReference answer:\n{reference}\n\nAnswer A:\n{answer_a}\n\n"
        f"Answer B:\n{answer_b}\n\nCriterion: {criterion}"
    )


def parse_verdict(text: str) -> str | None:
    """'A', 'B' or 'TIE' from the judge's last verdict line; None when it wrote none."""
    found = _VERDICT.findall(text)
    return found[-1].upper() if found else None


def _winner(verdict: str | None, arm_is_a: bool) -> str | None:
    if verdict is None:
        return None
    if verdict == "TIE":
        return "tie"
    return "arm" if (verdict == "A") == arm_is_a else "reference"


def combine(first: str | None, second: str | None) -> str | None:
    """One verdict from both orders: the mean of their scores, so a flip between orders is a tie."""
    if first is None or second is None:
        return first or second
    score = (_SCORE[first] + _SCORE[second]) / 2
    return "arm" if score > 0.5 else "reference" if score < 0.5 else "tie"


def load_human_labels(path: Path, arm: str, reference_arm: str) -> dict[tuple[str, str], str]:
    """{(example id, dimension): arm|reference|tie} from JSONL lines {id, dimension, winner}."""
    labels = {}
    names = {arm: "arm", reference_arm: "reference", "tie": "tie"}
    for n, row in enumerate(read_jsonl(path), 1):
        if row.get("winner") not in names:
            raise DataError(f"winner must be one of {sorted(names)}, got {row.get('winner')!r}", file=path, line=n)
        labels[(str(row["id"]), str(row["dimension"]))] = names[row["winner"]]
    return labels


def run_judge(
    cfg: JudgeConfig,
    examples: list[dict[str, Any]],
    reference_arm: str,
    *,
    human_labels: dict[tuple[str, str], str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Judge `cfg.arm` against the reference arm on every example and dimension, in both orders.

    Adds `judge` to each judged example ({dimension: {"verdict", "orders"}}) and returns, per dimension, the
    arm's win rate (win 1, tie 0.5, loss 0) with a bootstrap CI, position consistency, and kappa when labelled.
    """
    from sklearn.exceptions import UndefinedMetricWarning
    from sklearn.metrics import cohen_kappa_score

    judged = [ex for ex in examples if cfg.arm in ex["arms"] and reference_arm in ex["arms"]][: cfg.limit]
    jobs = []
    for ex in judged:
        ours, theirs = ex["arms"][cfg.arm]["prediction"], ex["arms"][reference_arm]["prediction"]
        for dim, criterion in cfg.rubric.items():
            for arm_is_a in (True, False):
                a, b = (ours, theirs) if arm_is_a else (theirs, ours)
                jobs.append((ex, dim, arm_is_a, judge_prompt(ex["prompt"], ex["reference"], a, b, criterion)))

    def ask(job: tuple[dict[str, Any], str, bool, str]) -> str | None:
        messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": job[3]}]
        text, _ = chat(client, cfg.model, messages, max_tokens=512)
        return _winner(parse_verdict(text), job[2])

    with make_client(cfg) as client, ThreadPoolExecutor(cfg.concurrency) as pool:
        answers = list(pool.map(ask, jobs))
    for (ex, dim, _, _), winner in zip(jobs[::2], zip(answers[::2], answers[1::2], strict=True), strict=True):
        ex.setdefault("judge", {})[dim] = {"verdict": combine(*winner), "orders": list(winner)}

    summary: dict[str, Any] = {"arm": cfg.arm, "reference_arm": reference_arm, "model": cfg.model, "dimensions": {}}
    for dim in cfg.rubric:
        verdicts = [(ex["id"], ex["judge"][dim]) for ex in judged]
        scores = [_SCORE[v["verdict"]] for _, v in verdicts if v["verdict"] is not None]
        both = [v["orders"] for _, v in verdicts if None not in v["orders"]]
        stats: dict[str, Any] = {
            "n": len(scores),
            "unparsed": sum(v["orders"].count(None) for _, v in verdicts),
            "win_rate": sum(scores) / len(scores) if scores else None,
            "ci": list(bootstrap_ci(scores, seed=seed)) if scores else None,
            "position_consistency": sum(a == b for a, b in both) / len(both) if both else None,
        }
        if human_labels:
            paired = [
                (human_labels[(i, dim)], v["verdict"])
                for i, v in verdicts
                if (i, dim) in human_labels and v["verdict"] is not None
            ]
            stats["human_n"] = len(paired)
            if paired:
                human, judge = zip(*paired, strict=True)
                with warnings.catch_warnings():  # both raters constant: kappa is undefined, reported as None
                    warnings.simplefilter("ignore", UndefinedMetricWarning)
                    kappa = cohen_kappa_score(human, judge, labels=["arm", "tie", "reference"])
                stats["kappa"] = None if kappa != kappa else float(kappa)
        summary["dimensions"][dim] = stats
    return summary
