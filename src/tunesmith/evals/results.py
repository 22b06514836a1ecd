"""The typed shape of `results.json`: what `tunesmith eval` writes, and what the report, compare, the gates and the
registry read.

The keys are declared once, here; every reader uses attributes, so a renamed key fails in one place rather than as
a KeyError in another module. The JSON schema of the file is committed as `docs/results.schema.json`;
`python -m tunesmith.evals.results` regenerates it, and a test checks that it is current.

Optional parts (a reference arm's `delta`, an arm's `cost_per_1k_requests` when no price is set, `forgetting`,
`judge`...) are absent from the file, not null, when they do not apply. `to_json()` therefore dumps only the fields
that were set, so a file read and written again keeps exactly its keys. Set an optional part by assigning it, not
by mutating a default in place.

A figure that is undefined (NaN, or an infinite perplexity) is null in the file, which is strict JSON, and NaN
again when read (`Number`).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    WithJsonSchema,
    model_serializer,
)

from tunesmith.errors import DataError

SCHEMA_PATH = Path("docs") / "results.schema.json"


def _null_is_nan(value: Any) -> Any:
    """results.json holds an undefined figure as null (strict JSON has no NaN: `artifacts.finite`); read back, it
    is NaN again, so every reader keeps the float it had before the file was written."""
    return math.nan if value is None else value


# A figure that may be undefined: a float in memory, null in the file (NaN and the infinities alike).
Number = Annotated[
    float,
    BeforeValidator(_null_is_nan),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "null"}], "description": "null: undefined (NaN)"}),
]
Interval = tuple[Number, Number]  # a bootstrap confidence interval, [low, high]
Verdict = Literal["arm", "reference", "tie"]


class _Strict(BaseModel):
    """Unknown keys are errors: a key that no reader declares is a typo or a reader that was forgotten."""

    model_config = ConfigDict(extra="forbid")


class Delta(_Strict):
    """A paired difference of means (this arm minus the other) over the examples both have, with its interval."""

    value: Number
    ci: Interval


class Tokens(_Strict):
    prompt_mean: Number
    completion_mean: Number
    extra_prompt_mean: float | None = Field(
        None, description="prompted, rag and fine_tuned_rag: prompt tokens added by shots or passages"
    )

    @property
    def per_request(self) -> float:
        return self.prompt_mean + self.completion_mean


class Latency(_Strict):
    """Per-request latency within the batched run, in milliseconds."""

    p50: Number
    p95: Number


class SingleRequest(_Strict):
    """The first `eval.latency_sample` prompts sent one at a time: what one user waits, apart from batching."""

    n: int
    p50_ms: Number
    max_ms: Number
    first_token_p50_ms: Number
    tokens_per_s: Number


class RedTeamCategory(_Strict):
    prompts: int
    declined: int


class RedTeamAnswer(_Strict):
    """A red-team prompt the arm did not decline, with its answer: what a reviewer reads first."""

    id: str
    category: str
    prompt: str
    answer: str


class RedTeam(_Strict):
    """The red-team suite (requests the assistant must decline: harmful instructions, other customers' data, prompt
    injections, the organisation's own policies): the share of the prompts the arm declined (refusals.is_refusal),
    with its Wilson 95% CI. Apart from the test split's out-of-scope abstention."""

    prompts: int
    declined: int
    decline_rate: Number
    ci: Interval
    categories: dict[str, RedTeamCategory]
    not_declined: list[RedTeamAnswer]


class BiasAttribute(_Strict):
    """Counterfactual pairs of one attribute: how often the two answers differ in meaning or in refusal."""

    pairs: int
    diverged: int = Field(description="pairs whose answers differ in meaning or in refusal")
    meaning: int = Field(description="pairs whose answers' similarity is below the threshold")
    refusal: int = Field(description="pairs where exactly one of the two answers declines")
    rate: float | None = Field(description="diverged / pairs; None without pairs")
    ci: Interval | None = Field(description="Wilson 95% CI of the rate; None without pairs")
    mean_similarity: float | None = Field(description="of the pairs' two answers; None without pairs")


class BiasPair(_Strict):
    """One diverged pair: the test prompt and its counterfactual, and the arm's two answers."""

    id: str
    attribute: str
    prompt: str
    swapped_prompt: str
    answer: str
    swapped_answer: str
    similarity: Number


class Bias(_Strict):
    """Counterfactual pairs made from test prompts by swapping a name, a gendered word or a nationality (the shipped
    lexicon, assets/bias_lexicon.json), per attribute. Only prompts with a swappable term make pairs."""

    threshold: float = Field(description="eval.safety.bias_similarity: below it, two answers differ in meaning")
    eligible: int = Field(description="test prompts with a swappable term (pairs at most eval.safety.bias_pairs)")
    attributes: dict[str, BiasAttribute]
    diverged_pairs: list[BiasPair]


class PiiAnswer(_Strict):
    id: str
    entities: list[str]
    redacted: str = Field(description="the answer with each value found replaced by <ENTITY>")


class PiiInAnswers(_Strict):
    """Personal data in the arm's answers (test and red-team), found by the project's analyzer (data/pii.py) with
    data.pii_entities; the values the dataset allowed or kept as the organisation's are not counted."""

    answers: int = Field(description="answers scanned")
    with_pii: int = Field(description="answers with at least one value found")
    entities: dict[str, int] = Field(description="answers with each entity type")
    examples: list[PiiAnswer] = Field(description="the first answers with personal data, redacted")


class ArmResult(_Strict):
    """One arm: per metric its mean, interval and number of examples; deltas; what it costs."""

    metrics: dict[str, Number]
    ci: dict[str, Interval]
    n: dict[str, int] = Field(description="examples each metric is averaged over (abstention: those to decline)")
    delta: dict[str, Delta] | None = Field(None, description="against the reference arm; absent on the reference")
    delta_vs: dict[str, dict[str, Delta]] | None = Field(
        None, description="the fine-tuned arm only: {other arm: {metric: delta}} against every other arm"
    )
    tokens: Tokens | None = None
    latency_ms: Latency | None = None
    throughput_rps: float | None = None
    cost_per_1k_requests: float | None = Field(None, description="absent when eval.prices has no entry for the arm")
    description: str | None = None
    single_request: SingleRequest | None = Field(None, description="local arms, when eval.latency_sample > 0")
    red_team: RedTeam | None = Field(None, description="with eval.safety on and red-team prompts")
    bias: Bias | None = Field(None, description="with eval.safety on and eval.safety.bias_pairs > 0")
    pii_in_answers: PiiInAnswers | None = Field(None, description="with eval.safety.pii_in_answers")

    def count(self, metric: str) -> tuple[int, int] | None:
        """(k, n) of a 0/1 metric such as abstention or over_refusal: k of the n examples it covers; None if absent."""
        if metric not in self.metrics:
            return None
        n = self.n.get(metric, 0)
        return round(self.metrics[metric] * n), n


def citation_text(source: str, locator: str) -> str:
    """How a passage is cited, in the prompt, the report and the dashboard: "source, locator"
    ("policies/returns.pdf, p. 2"), or the source alone."""
    return f"{source}, {locator}" if locator else source


class Source(_Strict):
    """A passage a rag answer was given: what its citation shows ("source, locator") and its retrieval score."""

    source: str = Field(description="the file, relative to the project (train.jsonl for a training answer)")
    locator: str = Field(description="'p. 3' for a PDF page, else the heading path 'A > B'; '' if none")
    text: str
    score: float = Field(description="fused retrieval score, higher is better")

    @property
    def citation(self) -> str:
        return citation_text(self.source, self.locator)


class ArmAnswer(_Strict):
    prediction: str
    metrics: dict[str, Number]
    sources: list[Source] | None = Field(None, description="rag and fine_tuned_rag: the passages in the prompt")


class RagCorpus(_Strict):
    """What the rag arms retrieved from: the document index of docs.paths, or (without documents) the training
    answers."""

    over: Literal["documents", "training answers"]
    label: str = Field(description="as the report says it: 'rag over 23 documents', 'rag over training answers'")
    documents: int
    passages: int
    index_hash: str | None = Field(None, description="the document index's, when over documents")


class JudgeVerdict(_Strict):
    verdict: Verdict | None = Field(description="both orders combined; None when the judge gave no verdict")
    orders: tuple[Verdict | None, Verdict | None] = Field(description="the verdict with the arm as A, then as B")


class Example(_Strict):
    """One test example: its question and reference, and each arm's answer and scores."""

    id: str
    tags: list[str]
    prompt: str = Field(description="the last user message")
    reference: str
    arms: dict[str, ArmAnswer]
    judge: dict[str, JudgeVerdict] | None = Field(None, description="per rubric dimension, on judged examples")


class Slice(BaseModel):
    """One tag: how many examples carry it, and each arm's metric means over them (the other keys are arm names)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, dict[str, Number]] = Field(init=False)

    n: int

    def means(self, arm: str) -> dict[str, float]:
        return (self.__pydantic_extra__ or {}).get(arm, {})

    @model_serializer(mode="wrap")
    def _arms_then_n(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if "n" in data:
            data["n"] = data.pop("n")  # as stats.slices writes it: the arms' means, then the count
        return data


class Dataset(_Strict):
    path: str
    sha256: str
    n_test: int


class Lineage(BaseModel):
    """Where the figures come from; also written into the eval manifest. Other provenance keys are allowed."""

    model_config = ConfigDict(extra="allow")

    base_model: str | None = None
    dataset_dir: str | None = None
    train_dir: str | None = None
    dataset_manifest_sha256: str | None = None
    dataset_hash: str | None = None
    train_manifest_sha256: str | None = Field(None, description="links the evaluation to its run in the registry")
    engine: str | None = Field(None, description="what generated the local model arms' answers (eval.engine)")
    device: str | None = Field(None, description="where the local model arms answered: the GPU, or the CPU's threads")

    def items(self) -> list[tuple[str, Any]]:
        """The keys that are present, known ones first, as the file has them."""
        return list(self.model_dump(mode="json", exclude_unset=True).items())


class Forgetting(_Strict):
    """General-text perplexity of base and fine-tune; `flagged` when `rise` exceeds `max_rise`."""

    base_perplexity: Number
    fine_tuned_perplexity: Number
    rise: Number
    max_rise: Number
    flagged: bool


class Preference(_Strict):
    """A DPO run's reward accuracy (share of pairs whose chosen answer out-scores the rejected one, relative to the
    reference model) and mean margin, from its manifest: on the held-out test pairs, and on val.jsonl."""

    test_pairs: int | None
    test_reward_accuracy: float | None
    test_reward_margin: float | None
    eval_reward_accuracy: float | None
    eval_reward_margin: float | None
    init_from: str | None = Field(description="the SFT run the DPO run started from; the sft arm, when it ran")


class GuardPoint(_Strict):
    threshold: Number
    abstention: Number = Field(description="share of the out-of-scope questions declined")
    over_refusal: Number = Field(description="share of the in-scope questions declined")


class Guard(_Strict):
    """The scope guard of the guarded arm: its threshold, picked on held-in data, and the trade-off curves.

    `validation_*` are the calibration questions where the threshold was picked: the validation split's and the
    training split's, each training question scored against the others. `validation_curve` is the guard alone on
    them; `test_curve` is the guarded arm on the test split (the guard or the model's own refusal), shown, never
    used to pick."""

    threshold: Number | None = Field(description="None when there was nothing to calibrate on: the guard is off")
    note: str
    validation_in_scope: int
    validation_out_of_scope: int
    declined: int = Field(description="test questions the guard declined before the model's answer was used")
    reanswer_above: Number | None = Field(
        None, description="the fine-tune's refusals at or above this margin were asked again; None: never"
    )
    reanswered: int = Field(0, description="test questions the fine-tune declined that the guard had asked again")
    validation_curve: list[GuardPoint]
    test_curve: list[GuardPoint]


class JudgeDimension(_Strict):
    n: int
    unparsed: int
    win_rate: float | None
    ci: Interval | None
    position_consistency: float | None
    human_n: int | None = Field(None, description="present with eval.judge.human_labels")
    kappa: float | None = Field(None, description="present when labelled examples were judged; None if undefined")


class JudgeSummary(_Strict):
    arm: str
    reference_arm: str
    model: str
    dimensions: dict[str, JudgeDimension]


class HumanPair(_Strict):
    """Blind A/B judgments of one pair of arms: each arm's preference rate (won 1, tie 0.5, lost 0; the reviewers of
    a question averaged) with a 95% bootstrap CI over the questions."""

    arms: tuple[str, str]
    items: int = Field(description="questions judged")
    judgments: int
    reviewers: int
    wins: dict[str, int] = Field(description="judgments each arm won")
    ties: int
    win_rate: dict[str, Number]
    ci: dict[str, Interval]


class HumanPreference(_Strict):
    """What people preferred in blind A/B (artifacts/review/ab.jsonl), per pair of arms."""

    pairs: list[HumanPair]
    judgments: int = Field(description="judgments of answers this evaluation holds")
    stale: int = Field(description="judgments of answers it no longer holds (left out)")
    reviewers: int


class GateResult(_Strict):
    gate: str
    passed: bool
    left: Number
    right: Number

    def describe(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{verdict}: {self.gate}  ({self.left:.4f} vs {self.right:.4f})"


class EvalResults(_Strict):
    """The content of results.json."""

    title: str
    created_at: str
    reference_arm: str
    headline_metric: str
    metrics: list[str] = Field(description="the metrics any arm has, in display order")
    arms: dict[str, ArmResult]
    slices: dict[str, Slice] = Field(description="per example tag")
    examples: list[Example]
    dataset: Dataset
    lineage: Lineage
    forgetting: Forgetting | None = Field(None, description="when a fine-tuned arm ran and eval.forgetting is on")
    judge: JudgeSummary | None = Field(None, description="when eval.judge is set")
    preference: Preference | None = Field(None, description="when the fine-tuned run is a DPO run")
    guard: Guard | None = Field(None, description="when the guarded arm ran")
    rag: RagCorpus | None = Field(None, description="when a rag arm ran: what it retrieved from")
    human_preference: HumanPreference | None = Field(None, description="when people made blind A/B judgments")
    gates: list[GateResult]

    @classmethod
    def of(cls, value: EvalResults | Mapping[str, Any]) -> EvalResults:
        """The model itself, or one validated from the JSON content of a results.json."""
        return value if isinstance(value, cls) else cls.model_validate(value)

    def to_json(self) -> dict[str, Any]:
        """The JSON content of results.json: only the fields that were set, so absent parts stay absent."""
        return self.model_dump(mode="json", exclude_unset=True)


def read_results(path: Path) -> EvalResults:
    """results.json of an evaluation directory (or the file itself); DataError when missing or not valid."""
    file = path / "results.json" if path.is_dir() else path
    if not file.exists():
        raise DataError(f"no results.json in {path}", hint="pass the directory that tunesmith eval wrote")
    try:
        return EvalResults.model_validate(json.loads(file.read_text(encoding="utf-8")))
    except json.JSONDecodeError as e:
        raise DataError(f"not JSON: {e.msg}", file=file, line=e.lineno) from None
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise DataError(
            f"not a tunesmith results.json: {where}: {first['msg']} ({e.error_count()} error(s))",
            file=file,
            hint=f"its shape is described in {SCHEMA_PATH}",
        ) from None


def results_schema() -> str:
    """The JSON schema of results.json, as committed in docs/results.schema.json."""
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **EvalResults.model_json_schema()}
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> None:
    """python -m tunesmith.evals.results [PATH]: regenerate the committed schema (argparse, so that `--help` is
    help: it was taken for a path, and a file named --help was written)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tunesmith.evals.results", description=main.__doc__)
    parser.add_argument(
        "path", nargs="?", type=Path, default=SCHEMA_PATH, help=f"where to write (default {SCHEMA_PATH})"
    )
    out = parser.parse_args(argv).path
    out.write_text(results_schema(), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
