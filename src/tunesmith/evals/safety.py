"""The evaluation's safety block (eval.safety): red-team decline, bias probes and personal data in answers, per arm.

Two steps around the arms' generation. Before it, `safety_probes` makes the extra prompts (the red-team prompts,
with the test split's system prompt, then the counterfactuals of the bias probes) and each generating arm's
conversations of them, the way that arm asks its test questions (the prompted arm's shots, the rag arms'
passages). The runner has every generating arm answer them in the same pass as its test questions, timed apart, so
the arm's cost figures stay the test split's. After it, `add_safety` gives each arm its figures: the arms that
generate nothing get their answers here (retrieval looks up the nearest training answer; guarded puts the scope
guard in front of fine_tuned's answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunesmith.config import Config
from tunesmith.evals.arms import arm_conversations, last_user, retrieval_arm
from tunesmith.evals.bias import BiasProbe, bias_figures, probes
from tunesmith.evals.cases import TestCase
from tunesmith.evals.rag import Corpus
from tunesmith.evals.red_team import RedTeamPrompt, load_suite, red_team_figures, select
from tunesmith.evals.results import ArmResult, Guard
from tunesmith.models.generation import Prediction

MODEL_FREE_ARMS = ("retrieval", "guarded")  # answered here, not by the runner's generation


@dataclass
class SafetyProbes:
    red_team: list[RedTeamPrompt]
    bias: list[BiasProbe]
    eligible: int  # counterfactual pairs the test split allows
    cases: list[TestCase]  # the red-team cases, then the counterfactuals: the order of every arm's extra answers
    convs: dict[str, list[list[dict[str, str]]]]  # per generating arm, its conversations of `cases`
    paths: list[Path]  # the user's red-team files: inputs of the evaluation


def safety_probes(
    cfg: Config, cases: Sequence[TestCase], train_rows: list[dict[str, Any]], documents: Corpus | None
) -> SafetyProbes | None:
    """The extra prompts and every generating arm's conversations of them; None with eval.safety off."""
    sc = cfg.eval.safety
    if not sc.enabled:
        return None
    paths = [cfg.path(p) for p in sc.red_team_paths]
    red = select(load_suite(paths), sc.red_team_limit)
    chosen, eligible = probes(cases, sc.bias_pairs)
    system = [m for m in cases[0].prompt if m["role"] == "system"] if cases else []
    extra = [
        TestCase(p.id, ["red_team", p.category], [*system, {"role": "user", "content": p.prompt}], "") for p in red
    ]
    extra += [p.case for p in chosen]
    convs: dict[str, list[list[dict[str, str]]]] = {}
    if extra:
        every = arm_conversations(cfg, extra, train_rows, documents=documents).convs
        convs = {arm: every[arm] for arm in cfg.eval.arms if arm not in MODEL_FREE_ARMS}
    return SafetyProbes(red, chosen, eligible, extra, convs, paths)


def _guarded(
    train_rows: list[dict[str, Any]], guard: Guard | None, cases: Sequence[TestCase], answers: list[Prediction]
) -> list[Prediction]:
    """fine_tuned's answers with the scope guard in front, at the threshold the guarded arm picked on validation."""
    if guard is None or guard.threshold is None or not cases:
        return answers
    from tunesmith.data.scope_guard import ScopeGuard

    scope = ScopeGuard.from_records(train_rows)
    margins = scope.margins([last_user(c.prompt) for c in cases])
    return [
        Prediction(scope.refusal, 0, 0, p.latency_ms) if m < guard.threshold else p
        for p, m in zip(answers, margins, strict=True)
    ]


def _pii_allow(cfg: Config, dataset_dir: Path) -> list[str]:
    """data.pii_allow and what prepare kept as the organisation's (the persona's and the brand's names)."""
    from tunesmith.data.redact import decided_allow

    return decided_allow(cfg.data.pii_allow, dataset_dir)


def add_safety(
    cfg: Config,
    found: SafetyProbes,
    arms: dict[str, ArmResult],
    cases: Sequence[TestCase],
    runs: Mapping[str, tuple[list[Prediction], float]],
    extra: Mapping[str, list[Prediction]],
    train_rows: list[dict[str, Any]],
    guard: Guard | None,
    dataset_dir: Path,
) -> None:
    """Each arm's red_team, bias and pii_in_answers. `runs`: each arm's test answers (and wall time), as the runner
    has them; `extra`: each generating arm's answers to `found.cases`; `guard`: the guarded arm's, when it ran."""
    sc = cfg.eval.safety
    answers = {arm: run[0] for arm, run in runs.items()}
    extra = dict(extra)
    if "retrieval" in arms:
        extra["retrieval"] = retrieval_arm(train_rows, found.cases)
    if "guarded" in arms:
        extra["guarded"] = _guarded(train_rows, guard, found.cases, extra.get("fine_tuned", []))
    n_red = len(found.red_team)
    for arm, result in arms.items():
        texts = [p.text for p in extra.get(arm, [])]
        if found.red_team:
            result.red_team = red_team_figures(found.red_team, texts[:n_red])
        if sc.bias_pairs:
            test_answers = [p.text for p in answers[arm]]
            result.bias = bias_figures(
                found.bias, found.eligible, cases, test_answers, texts[n_red:], sc.bias_similarity
            )
    if sc.pii_in_answers:
        from tunesmith.evals.pii_answers import pii_by_arm

        rows = {
            arm: [(c.id, p.text) for c, p in zip(cases, answers[arm], strict=True)]
            # the red-team answers only: the counterfactuals hold the names the probes put there
            + [(p.id, t.text) for p, t in zip(found.red_team, extra.get(arm, []), strict=False)]
            for arm in arms
        }
        scanned = pii_by_arm(rows, entities=cfg.data.pii_entities, allow=_pii_allow(cfg, dataset_dir))
        for arm, figures in scanned.items():
            arms[arm].pii_in_answers = figures
