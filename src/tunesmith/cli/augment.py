"""`tunesmith data add-refusals | add-negatives`: parse, call tunesmith.data.augment, render."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from tunesmith.data.augment import AugmentResult

console = Console(highlight=False)

OutOpt = Annotated[Path, typer.Option("--out", help="JSONL file to append to (created if absent; atomic).")]
SystemOpt = Annotated[str | None, typer.Option("--system", help="System prompt put first in every conversation.")]
PairsOpt = Annotated[
    bool, typer.Option("--pairs", help="Write preference pairs (chosen, rejected) for train.objective: dpo.")
]


def _report(result: AugmentResult, what: str, pairs: bool = False) -> None:
    dup = f", {result.duplicates} already there" if result.duplicates else ""
    kind = "pair(s)" if pairs else "conversation(s)"
    console.print(f"added [bold]{result.added}[/] {what} {kind} to {result.out}{dup}; {result.total} in all")


def add_refusals(
    out: OutOpt,
    questions: Annotated[
        Path | None,
        typer.Option("--questions", help='Out-of-scope questions: one per line, or JSONL with "question".'),
    ] = None,
    generate: Annotated[
        int | None, typer.Option("--generate", help="Generate N paraphrased out-of-scope questions instead.")
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="With --generate: your question templates, one per line, with {topic}."),
    ] = None,
    topics: Annotated[
        str | None, typer.Option("--topics", help="With --generate: comma-separated out-of-scope topics.")
    ] = None,
    system: SystemOpt = None,
    answer: Annotated[
        str | None, typer.Option("--answer", help="The refusal, in your project's voice; {contact} is filled in.")
    ] = None,
    contact: Annotated[
        str | None, typer.Option("--contact", help="Who can help, in the default answer (or {contact}).")
    ] = None,
    near_domain: Annotated[
        list[Path] | None,
        typer.Option(
            "--near-domain",
            help="With --generate: write questions next to the domain of these data files (the same topics at "
            "another organisation, neighbouring departments, facts the data never states), answered with the "
            "project's own system prompt and refusal.",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --generate.")] = 0,
    pairs: PairsOpt = False,
    rejected_from: Annotated[
        str | None,
        typer.Option(
            "--rejected-from",
            help='With --pairs: the model whose own answer is rejected where a line has no "rejected" (e.g. the base).',
        ),
    ] = None,
) -> None:
    """Add "I don't know" conversations for out-of-scope questions, tagged refusal and out_of_scope.

    Examples:
      tunesmith data add-refusals --questions out_of_scope.txt --contact support@acme.test --out data/refusals.jsonl
      tunesmith data add-refusals --generate 40 --seed 1 --system "You are Juno." --out data/refusals.jsonl
      tunesmith data add-refusals --generate 30 --near-domain data/support.jsonl --out data/refusals.jsonl
      tunesmith data add-refusals --questions q.jsonl --answer "Sorry, I only help with orders." --out data/x.jsonl
      tunesmith data add-refusals --generate 40 --pairs --rejected-from models/base --out data/refusal_pairs.jsonl
    """
    if near_domain:
        from tunesmith.data.near_domain import add_near_domain_refusals
        from tunesmith.errors import DataError

        if generate is None or questions is not None or templates is not None or topics is not None or pairs:
            raise DataError(
                "--near-domain writes its own questions from your data: use it with --generate N alone",
                hint="tunesmith data add-refusals --generate 30 --near-domain data/train.jsonl --out refusals.jsonl",
            )
        _report(
            add_near_domain_refusals(
                out, near_domain, generate, seed=seed, system=system, answer=answer, contact=contact
            ),
            "near-domain refusal",
        )
        return
    from tunesmith.data.augment import add_refusals as run

    topic_list = topics.split(",") if topics else None
    if (templates is not None or topics is not None) and generate is None:
        from tunesmith.errors import DataError

        raise DataError("--templates and --topics only apply with --generate N")
    result = run(
        out,
        questions=questions,
        generate=generate,
        templates=templates,
        topics=topic_list,
        system=system,
        answer=answer,
        contact=contact,
        seed=seed,
        pairs=pairs,
        rejected_from=rejected_from,
    )
    _report(result, "refusal", pairs)


def add_negatives(
    out: OutOpt,
    prompts: Annotated[
        Path, typer.Option("--prompts", help='JSONL with "prompt" (a disallowed request) and "answer" (the policy).')
    ],
    system: SystemOpt = None,
    pairs: PairsOpt = False,
) -> None:
    """Add conversations that decline disallowed requests with your policy answer, tagged negative.

    With --pairs, each line's "rejected" (the disallowed or hallucinated answer) makes a preference pair.

    Examples:
      tunesmith data add-negatives --prompts disallowed.jsonl --out data/negatives.jsonl
      tunesmith data add-negatives --prompts disallowed.jsonl --pairs --out data/negative_pairs.jsonl
    """
    from tunesmith.data.augment import add_negatives as run

    _report(run(out, prompts=prompts, system=system, pairs=pairs), "negative", pairs)
