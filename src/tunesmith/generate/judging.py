"""The optional judge filter (generate.judge_min_score): eval.judge's endpoint scores each generated example 1-5,
through the same cached client as the teacher, so a rerun does not pay for the same score twice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from tunesmith.config import Config, TeacherConfig
from tunesmith.errors import ConfigError
from tunesmith.generate.spend import confirm_spend, estimate
from tunesmith.generate.teacher import Request, Teacher

SCORE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"score": {"type": "integer", "enum": [1, 2, 3, 4, 5]}, "reason": {"type": "string"}},
    "required": ["score", "reason"],
    "additionalProperties": False,
}
JUDGE_SYSTEM = (
    "You review drafts of training data for an assistant. Score the answer to the question from 1 (wrong, "
    "unsupported or unhelpful) to 5 (correct, supported by the source when one is given, clear and in a helpful "
    "tone). A polite refusal of a question the assistant should not answer scores 5. Reply with JSON."
)


def judge_teacher(cfg: Config, cache_dir: Path) -> Teacher:
    """A client of eval.judge's endpoint, greedy: the same example gets the same score."""
    judge = cfg.eval.judge
    if judge is None:
        raise ConfigError(
            "generate.judge_min_score needs a judge, and eval.judge is not set",
            hint="set eval.judge: {base_url: http://HOST/v1, model: NAME, api_key_env: KEY_VAR}, or unset "
            "generate.judge_min_score",
        )
    fields = judge.model_dump(include={"base_url", "model", "api_key_env", "timeout_s", "concurrency"})
    return Teacher(TeacherConfig(**fields, temperature=0, max_tokens=200), cache_dir)


def score_requests(records: list[dict[str, Any]]) -> list[Request]:
    out = []
    for r in records:
        turns = {m["role"]: m["content"] for m in r["messages"]}
        source = r["meta"].get("source")
        where = f"\nSource: {source}, {r['meta'].get('locator', '')}" if isinstance(source, str) else ""
        user = f"Question:\n{turns.get('user', '')}\n\nAnswer:\n{turns.get('assistant', '')}{where}"
        messages = [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]
        out.append(Request.of(messages, SCORE_SCHEMA, "score"))
    return out


def scorer(teacher: Teacher, yes: bool, console: Console) -> Callable[[list[dict[str, Any]]], list[int | None]]:
    """Scores 1-5 (None: unreadable), after the judge's own estimate and confirmation: it is another paid endpoint."""

    def score(records: list[dict[str, Any]]) -> list[int | None]:
        requests = score_requests(records)
        est = estimate(teacher, requests)
        console.print(f"judge: {est.line()}", soft_wrap=True)
        confirm_spend(teacher.cfg, est, yes, console)
        answers = teacher.ask(requests)
        values = [a.data.get("score") if isinstance(a.data, dict) else None for a in answers]
        return [int(v) if isinstance(v, int | float) and 1 <= v <= 5 else None for v in values]

    return score
