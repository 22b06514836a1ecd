"""Parity of an exported model with the trained one: the same prompts, greedy, through both, compared token by token.

An export that "outputs garbage" or "never stops" has lost something on the way (the adapter, the chat template,
the end-of-turn token); rounding to f16 or q8_0 changes a few near-tied tokens. The check tells them apart:
- identical: answers equal token for token, up to and including the end-of-turn token;
- ROUGE-L between the two answers (not against the references): how far the differing answers moved;
- the first diverging token of each differing answer (where, and the two tokens);
- run-ons: answers the trained model ends and the export does not, even given a few times the budget (an answer that
  parted late and needs a few more tokens than the budget leaves is a late stop, told apart by asking it again);
- prompt tokens: whether the export's own chat template and tokenizer give the trained model's prompt ids.
Thresholds per quantisation are the export section's (`config/export.py`); below them the export exits 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, Field

from tunesmith.config.export import ExportConfig
from tunesmith.evals.cases import TestCase
from tunesmith.evals.metrics import rouge_l
from tunesmith.models.answers import Answer, Engine

SHOWN_DIVERGENCES = 5  # the first differing answers the manifest lists, enough to see a pattern


class Divergence(BaseModel):
    case: str
    at: int = Field(description="Index of the first generated token that differs.")
    trained: str = Field(description="The trained model's token there ('' when its answer had ended).")
    exported: str = Field(description="The export's token there ('' when its answer had ended).")


class QuantParity(BaseModel):
    quant: str
    engine: str = Field(description="What ran the GGUF: llama.cpp, or transformers reading the GGUF.")
    prompts: int
    identical: float = Field(description="Share of answers identical token for token.")
    rouge_l: float = Field(description="Mean ROUGE-L between the export's answers and the trained model's.")
    run_ons: int = Field(
        description="Answers the trained model ended and the export did not, even given `run_on_budget` x the budget."
    )
    run_on_cases: list[str] = Field(default_factory=list, description="The test cases that ran on.")
    late_stops: list[str] = Field(
        default_factory=list,
        description="Cases whose export answer ended its turn only past the budget, when asked again with more.",
    )
    prompt_tokens_identical: float = Field(description="Share of prompts the export tokenised to the same ids.")
    thresholds: dict[str, float]
    passed: bool
    failures: list[str] = Field(default_factory=list)
    divergences: list[Divergence] = Field(default_factory=list)


class Parity(BaseModel):
    trained: str = Field(description="What ran the trained model.")
    max_new_tokens: int
    results: list[QuantParity]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def trained_answers(
    engine: Engine, cases: Sequence[TestCase], max_new_tokens: int, tick: Callable[[], None] | None = None
) -> list[Answer]:
    """The engine's greedy answer to each case's prompt."""
    out = []
    for case in cases:
        out.append(engine.answer(case.prompt, max_new_tokens=max_new_tokens))
        if tick is not None:
            tick()
    return out


def run_on_suspects(cases: Sequence[TestCase], trained: Sequence[Answer], exported: Sequence[Answer]) -> list[TestCase]:
    """The cases the trained model ended within the budget and the export did not."""
    return [c for c, a, b in zip(cases, trained, exported, strict=True) if a.stopped and not b.stopped]


def _divergence(case: str, a: Answer, b: Answer, token: Callable[[int], str]) -> Divergence | None:
    at = next((k for k, (x, y) in enumerate(zip(a.ids, b.ids, strict=False)) if x != y), None)
    if at is None:
        if len(a.ids) == len(b.ids):
            return None
        at = min(len(a.ids), len(b.ids))
    return Divergence(
        case=case,
        at=at,
        trained=token(a.ids[at]) if at < len(a.ids) else "",
        exported=token(b.ids[at]) if at < len(b.ids) else "",
    )


def compare(
    quant: str,
    engine_name: str,
    cases: Sequence[TestCase],
    trained: Sequence[Answer],
    exported: Sequence[Answer],
    token: Callable[[int], str],
    cfg: ExportConfig,
    longer: Mapping[str, Answer] | None = None,
) -> QuantParity:
    """The figures of one export against the trained model's answers, and whether they pass `cfg`'s thresholds.

    `longer` holds, by case id, the export's answer asked again with a larger budget where the trained model ended
    its answer and the export did not (`run_on_suspects`): those that end there are late stops, the rest run-ons."""
    longer = longer or {}
    divergences = [d for c, a, b in zip(cases, trained, exported, strict=True) if (d := _divergence(c.id, a, b, token))]
    n = max(len(cases), 1)
    identical = 1 - len(divergences) / n
    rouge = sum(rouge_l(b.text, a.text) for a, b in zip(trained, exported, strict=True)) / n
    suspects = run_on_suspects(cases, trained, exported)
    late = [c.id for c in suspects if c.id in longer and longer[c.id].stopped]
    run_on_cases = [c.id for c in suspects if c.id not in late]
    run_ons = len(run_on_cases)
    same_prompt = sum(1 for a, b in zip(trained, exported, strict=True) if a.prompt_ids == b.prompt_ids) / n
    thresholds = {
        "min_identical": cfg.min_identical.get(quant, 0.0),  # type: ignore[call-overload]
        "min_rouge_l": cfg.min_rouge_l.get(quant, 0.0),  # type: ignore[call-overload]
        "max_run_ons": float(cfg.max_run_ons),
        "min_prompt_identical": cfg.min_prompt_identical,
    }
    failures = []
    if identical < thresholds["min_identical"]:
        failures.append(f"{identical:.0%} identical answers, below {thresholds['min_identical']:.0%}")
    if rouge < thresholds["min_rouge_l"]:
        failures.append(f"ROUGE-L {rouge:.3f} against the trained answers, below {thresholds['min_rouge_l']}")
    if same_prompt < cfg.min_prompt_identical:
        failures.append(
            f"{same_prompt:.0%} of the prompts give the trained model's token ids through the GGUF's chat template "
            f"and tokenizer, below {cfg.min_prompt_identical:.0%}"
        )
    if run_ons > cfg.max_run_ons:
        failures.append(
            f"{run_ons} answers ran on past the end of turn, even with {cfg.run_on_budget}x the token budget (at most "
            f"{cfg.max_run_ons}): {', '.join(run_on_cases[:SHOWN_DIVERGENCES])}"
        )
    return QuantParity(
        quant=quant,
        engine=engine_name,
        prompts=len(cases),
        identical=identical,
        rouge_l=rouge,
        run_ons=run_ons,
        run_on_cases=run_on_cases,
        late_stops=late,
        prompt_tokens_identical=same_prompt,
        thresholds=thresholds,
        passed=not failures,
        failures=failures,
        divergences=divergences[:SHOWN_DIVERGENCES],
    )
