"""Blind A/B from an evaluation: the items people judge, and what their judgments add up to.

An item is one test question and the answers of two arms to it (`examples[i].arms[arm].prediction` of
results.json). Its id is a hash of the example id, the two arm names and the two answers, so a judgment made on one
evaluation counts in the next only where both arms gave the same answers again (greedy decoding does, until the
model, the prompt or the data change); a judgment about answers that are no longer there is counted as `stale`.

Which pairs: `ui.ab_pairs` when set, else the fine-tune (`fine_tuned`, or `guarded` when it ran alone) against
every other arm that ran. Two identical answers are not an item: there is nothing to choose.

The judgments (review/ab.py) become: per pair of arms, each arm's preference rate, ties counted half, with a 95%
bootstrap CI over questions (`human_preference`, in results.json and the report); preference pairs for DPO, the
preferred answer chosen and the other rejected, ties skipped (`preference_pairs`); and the judge's human labels,
so the judge's Cohen's kappa says how often it agrees with people (`human_labels`).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import Config
from tunesmith.errors import DataError
from tunesmith.evals.cases import load_test_cases
from tunesmith.evals.results import EvalResults, HumanPair, HumanPreference, read_results
from tunesmith.evals.stats import FOCUS_ARMS, bootstrap_ci
from tunesmith.review.ab import AbStore

AB_TAGS = ("reviewed", "ab")


def ab_item_id(example_id: str, answers: dict[str, str]) -> str:
    """The item's id: its example, its two arms and their answers (order-free)."""
    key = json.dumps([example_id, sorted(answers.items())], ensure_ascii=False)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


@dataclass
class AbItem:
    id: str
    example_id: str
    arms: tuple[str, str]  # as the pair names them; which is shown as A is review.ab.shown_order's choice
    question: str
    reference: str
    answers: dict[str, str]
    prompt: list[dict[str, Any]]  # the conversation up to the answer, as the test split has it

    def to_record(self) -> dict[str, Any]:
        """What the store keeps with a judgment."""
        return {
            "id": self.id,
            "example_id": self.example_id,
            "arms": list(self.arms),
            "question": self.question,
            "reference": self.reference,
            "answers": self.answers,
            "prompt": self.prompt,
        }


def ab_pairs(arms: Sequence[str], configured: Sequence[Sequence[str]] = ()) -> list[tuple[str, str]]:
    """The pairs of arms people compare: `configured` (those whose arms both ran), else the fine-tune against every
    other arm, else every pair."""
    if configured:
        return [(a, b) for a, b in configured if a in arms and b in arms and a != b]
    focus = next((a for a in FOCUS_ARMS if a in arms), None)
    if focus is None:
        return [(a, b) for i, a in enumerate(arms) for b in arms[i + 1 :]]
    return [(focus, other) for other in arms if other != focus]


def _prompts(results: EvalResults) -> dict[str, list[dict[str, Any]]]:
    """{example id: the test conversation up to its answer}, when the evaluated test split is still there."""
    path = Path(results.dataset.path)
    if not path.is_file():
        return {}
    try:
        return {c.id: c.prompt for c in load_test_cases(path)}
    except DataError:
        return {}


def ab_items(results: EvalResults, pairs: Sequence[tuple[str, str]]) -> list[AbItem]:
    """Every (example, pair) whose two answers differ, in example order."""
    prompts = _prompts(results)
    items = []
    for ex in results.examples:
        for a, b in pairs:
            if a not in ex.arms or b not in ex.arms or ex.arms[a].prediction == ex.arms[b].prediction:
                continue
            answers = {a: ex.arms[a].prediction, b: ex.arms[b].prediction}
            prompt = prompts.get(ex.id) or [{"role": "user", "content": ex.prompt}]
            items.append(AbItem(ab_item_id(ex.id, answers), ex.id, (a, b), ex.prompt, ex.reference, answers, prompt))
    return items


def latest_items(cfg: Config) -> list[AbItem]:
    """The items of the latest evaluation (cfg.stage_dir("eval")/results.json)."""
    results = read_results(cfg.stage_dir("eval"))
    return ab_items(results, ab_pairs(list(results.arms), cfg.ui.ab_pairs))


# ------------------------------------------------------------------------------------------ what judgments add up to


def _score(judgment: dict[str, Any], arm: str) -> float:
    """1 when `arm` won, 0.5 for a tie, 0 when it lost."""
    return 0.5 if judgment["winner"] == "tie" else float(judgment["winner"] == arm)


def _current(results: EvalResults, judgment: dict[str, Any]) -> bool:
    """Whether the evaluation holds the judged answers: the same example, both arms, the same texts."""
    ex = next((e for e in results.examples if e.id == judgment["example_id"]), None)
    answers = judgment["answers"]
    return ex is not None and all(arm in ex.arms and ex.arms[arm].prediction == answers[arm] for arm in answers)


def _pair(arms: tuple[str, str], judgments: list[dict[str, Any]], seed: int) -> HumanPair:
    first, second = arms
    per_item: dict[str, list[float]] = defaultdict(list)
    for j in judgments:
        per_item[j["item_id"]].append(_score(j, first))
    # Each question counts once, whatever the number of reviewers who judged it: the mean of their scores.
    scores = [sum(s) / len(s) for s in per_item.values()]
    rate = sum(scores) / len(scores)
    lo, hi = bootstrap_ci(scores, seed=seed)
    return HumanPair(
        arms=arms,
        items=len(scores),
        judgments=len(judgments),
        reviewers=len({j["by"] for j in judgments}),
        wins={
            first: sum(j["winner"] == first for j in judgments),
            second: sum(j["winner"] == second for j in judgments),
        },
        ties=sum(j["winner"] == "tie" for j in judgments),
        win_rate={first: rate, second: 1 - rate},
        ci={first: (lo, hi), second: (1 - hi, 1 - lo)},
    )


def human_preference(
    results: EvalResults, judgments: Iterable[dict[str, Any]], *, seed: int = 0
) -> HumanPreference | None:
    """Per pair of arms, each arm's preference rate (won 1, tie 0.5, lost 0; a question's reviewers averaged) with
    a 95% bootstrap CI over the questions; None without any judgment. Judgments about answers this evaluation does
    not hold are `stale` and left out."""
    judgments = list(judgments)
    if not judgments:
        return None
    current = [j for j in judgments if _current(results, j)]
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    order: dict[frozenset[str], tuple[str, str]] = {}
    for j in current:
        arms = order.setdefault(frozenset(j["arms"]), (j["arms"][0], j["arms"][1]))
        by_pair[arms].append(j)
    return HumanPreference(
        pairs=[_pair(arms, js, seed) for arms, js in by_pair.items()],
        judgments=len(current),
        stale=len(judgments) - len(current),
        reviewers=len({j["by"] for j in current}),
    )


def human_preference_of(cfg: Config, results: EvalResults) -> HumanPreference | None:
    """`human_preference` of the project's judgments (artifacts/review/ab.jsonl), for `tunesmith eval`."""
    return human_preference(results, AbStore(cfg.stage_dir("review")).judgments(), seed=cfg.project.seed)


def _verdicts(judgments: Iterable[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], float]]:
    """{item id: (its first judgment, the first arm's mean score over the item's reviewers)}."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for j in judgments:
        grouped[j["item_id"]].append(j)
    return {i: (js[0], sum(_score(j, js[0]["arms"][0]) for j in js) / len(js)) for i, js in grouped.items()}


def preference_pairs(judgments: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One DPO preference pair per judged item that people did not tie (reviewers' scores averaged): the preferred
    answer chosen, the other rejected, tagged `reviewed` and `ab`, with who judged in `meta.review`."""
    judgments = list(judgments)
    pairs = []
    for item_id, (j, score) in _verdicts(judgments).items():
        if score == 0.5:
            continue
        first, second = j["arms"]
        chosen, rejected = (first, second) if score > 0.5 else (second, first)
        them = [x for x in judgments if x["item_id"] == item_id]
        prompt = j.get("prompt") or [{"role": "user", "content": j["question"]}]
        pairs.append(
            {
                "prompt": prompt,
                "chosen": [{"role": "assistant", "content": j["answers"][chosen]}],
                "rejected": [{"role": "assistant", "content": j["answers"][rejected]}],
                "meta": {
                    "id": f"ab-{item_id}",
                    "tags": list(AB_TAGS),
                    "review": {
                        "item_id": item_id,
                        "example_id": j["example_id"],
                        "chosen_arm": chosen,
                        "rejected_arm": rejected,
                        "by": sorted({x["by"] for x in them}),
                        "at": max(x["at"] for x in them),
                        "notes": [x["note"] for x in them if x["note"]],
                    },
                },
            }
        )
    return pairs


def human_labels(
    judgments: Iterable[dict[str, Any]], arm: str, reference_arm: str, dimensions: Sequence[str]
) -> list[dict[str, Any]]:
    """The judgments of `arm` against `reference_arm` as the judge's human labels (eval.judge.human_labels): one
    line {id, dimension, winner: ARM|tie} per judged example and dimension; a person's overall preference stands
    for each dimension named."""
    rows: list[dict[str, Any]] = []
    for j, score in _verdicts(x for x in judgments if set(x["arms"]) == {arm, reference_arm}).values():
        first, second = j["arms"]
        winner = "tie" if score == 0.5 else first if score > 0.5 else second
        rows.extend({"id": j["example_id"], "dimension": d, "winner": winner} for d in dimensions)
    return rows
