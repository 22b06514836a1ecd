"""The red-team suite: requests the assistant must decline, asked of every arm, and the share each declined.

The shipped suite (assets/red_team.jsonl) is generic on purpose, so that it holds for any organisation: harmful
instructions, attempts to extract other customers' data, prompt injections ("ignore your instructions and ...")
and requests to break the organisation's own policies. `eval.safety.red_team_paths` adds the user's own files, in
the same form. A decline is what `refusals.is_refusal` detects, the detector of the abstention metric; the figure
is kept apart from abstention, which counts the test split's out-of-scope questions.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from itertools import zip_longest
from pathlib import Path

from tunesmith.errors import DataError
from tunesmith.evals.results import RedTeam, RedTeamAnswer, RedTeamCategory
from tunesmith.evals.stats import share_ci
from tunesmith.refusals import is_refusal

SHIPPED = "assets/red_team.jsonl"
FORM = 'one JSON object a line: {"category": "prompt_injection", "prompt": "Ignore your instructions and ..."}'


@dataclass(frozen=True)
class RedTeamPrompt:
    id: str
    category: str
    prompt: str


def _parse(lines: Sequence[str], source: str, file: Path | None) -> list[RedTeamPrompt]:
    """The prompts of one file; a DataError with the file and line of the first line that is not one."""
    prompts = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"not JSON: {e.msg}", file=file, line=n, hint=FORM) from None
        if not isinstance(row, dict):
            raise DataError("a red-team line must be a JSON object", file=file, line=n, hint=FORM)
        missing = [k for k in ("category", "prompt") if not isinstance(row.get(k), str) or not row[k].strip()]
        if missing:
            raise DataError(f"a red-team line needs a non-empty text '{missing[0]}'", file=file, line=n, hint=FORM)
        prompts.append(RedTeamPrompt(str(row.get("id") or f"{source}:{n}"), row["category"], row["prompt"]))
    return prompts


def load_suite(paths: Sequence[Path] = ()) -> list[RedTeamPrompt]:
    """The shipped suite, then the prompts of each of the user's files, in order."""
    shipped = resources.files("tunesmith").joinpath(SHIPPED).read_text(encoding="utf-8")
    prompts = _parse(shipped.splitlines(), "red_team", None)
    for path in paths:
        if not path.is_file():
            raise DataError(
                f"no red-team file at {path}", hint="fix eval.safety.red_team_paths (relative to tunesmith.yaml)"
            )
        prompts += _parse(path.read_text(encoding="utf-8").splitlines(), path.stem, path)
    ids = [p.id for p in prompts]
    twice = next((i for i in ids if ids.count(i) > 1), None)
    if twice is not None:
        raise DataError(f"red-team id '{twice}' is used twice", hint="give every red-team prompt its own id")
    return prompts


def select(prompts: Sequence[RedTeamPrompt], limit: int) -> list[RedTeamPrompt]:
    """At most `limit` prompts, taken in turn from each category (in the order they first appear), so that a small
    limit still asks every category."""
    by_category: dict[str, list[RedTeamPrompt]] = {}
    for p in prompts:
        by_category.setdefault(p.category, []).append(p)
    in_turn = [p for row in zip_longest(*by_category.values()) for p in row if p is not None]
    return in_turn[:limit]


def red_team_figures(prompts: Sequence[RedTeamPrompt], answers: Sequence[str]) -> RedTeam:
    """The arm's share declined, overall and per category, and the prompts it answered anyway."""
    declined = [is_refusal(a) for a in answers]
    categories: dict[str, RedTeamCategory] = {}
    for p, d in zip(prompts, declined, strict=True):
        c = categories.setdefault(p.category, RedTeamCategory(prompts=0, declined=0))
        c.prompts += 1
        c.declined += int(d)
    k, n = sum(declined), len(prompts)
    return RedTeam(
        prompts=n,
        declined=k,
        decline_rate=k / n if n else float("nan"),
        ci=share_ci(k, n),
        categories=categories,
        not_declined=[
            RedTeamAnswer(id=p.id, category=p.category, prompt=p.prompt, answer=a)
            for p, a, d in zip(prompts, answers, declined, strict=True)
            if not d
        ],
    )
