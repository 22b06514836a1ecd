"""What a generate run will cost, and the user's yes before any request leaves the machine (as the vendor backends
ask before an upload, train/vendor/preflight.py): --yes in scripts; in a terminal, a question; otherwise exit 2."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console

from tunesmith.config import TeacherConfig
from tunesmith.errors import ConfigError, TunesmithError
from tunesmith.generate.teacher import Request, Teacher

# No tokenizer of the teacher's model is at hand (a vendor's is not public): the estimate counts 4 characters a token,
# the usual figure for English, and every completion at its whole budget. On the demo's prompts SmolLM2's tokenizer
# counted 9% more prompt tokens than this and 9% fewer completion tokens (16,197 against 15,874 in all): an order of
# magnitude, which teacher.max_cost_usd then holds to the spend the server reports.
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class Estimate:
    requests: int  # what will be asked: not in the cache
    cached: int  # answered by an earlier run: free
    prompt_tokens: int
    completion_tokens: int  # at most: teacher.max_tokens per request
    cost_usd: float | None  # None when the teacher's prices are not configured

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        cost = f"at most ${self.cost_usd:.4f}" if self.cost_usd is not None else "cost unknown (no teacher prices set)"
        return (
            f"{self.requests} teacher request(s) to send ({self.cached} answered already, cached): about "
            f"{self.prompt_tokens:,} prompt and at most {self.completion_tokens:,} completion tokens, {cost}"
        )


def estimate(teacher: Teacher, requests: Sequence[Request]) -> Estimate:
    cfg = teacher.cfg
    todo = teacher.uncached(requests)
    prompt = sum(len(c) for r in todo for _, c in r.messages) // CHARS_PER_TOKEN + (
        sum(len(str(r.schema or "")) for r in todo) // CHARS_PER_TOKEN
    )
    completion = cfg.max_tokens * len(todo)
    cost = None
    if cfg.prompt_per_1m is not None or cfg.completion_per_1m is not None:
        cost = (prompt * (cfg.prompt_per_1m or 0) + completion * (cfg.completion_per_1m or 0)) / 1e6
    return Estimate(len(todo), len(requests) - len(todo), prompt, completion, cost)


def confirm_spend(cfg: TeacherConfig, est: Estimate, yes: bool, console: Console) -> None:
    """Refuse an estimate above teacher.max_cost_usd; then --yes, or a yes at a terminal prompt; a script without
    --yes is refused (exit 2) before any request. Nothing to ask (all cached) needs no confirmation."""
    if est.requests == 0:
        return
    if cfg.max_cost_usd is not None and est.cost_usd is not None and est.cost_usd > cfg.max_cost_usd:
        raise ConfigError(
            f"the estimate (${est.cost_usd:.4f}) is above generate.teacher.max_cost_usd (${cfg.max_cost_usd:g}); "
            "nothing was sent",
            hint="raise generate.teacher.max_cost_usd, lower generate.questions_per_passage or teacher.max_tokens, "
            "or generate from fewer documents or prompts",
        )
    if yes:
        return
    what = f"{est.requests} request(s) to {cfg.model} at {cfg.base_url}"
    if sys.stdin is not None and sys.stdin.isatty():
        from rich.prompt import Confirm

        if Confirm.ask(f"send {what}?", console=console, default=False):
            return
        raise TunesmithError("not confirmed: nothing was sent to the teacher")
    raise ConfigError(
        f"sending {what} needs a confirmation",
        hint="pass --yes (tunesmith data generate ... --yes) to confirm in a script",
    )
