"""`tunesmith data generate`: parse, call tunesmith.generate, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.console import Console

from tunesmith.cli.options import choice
from tunesmith.cli.pipeline import SetOption
from tunesmith.config import Config, TeacherConfig, load_config
from tunesmith.config.generate import SOURCES, Source
from tunesmith.errors import ConfigError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _split_args(args: list[Path]) -> tuple[Path, Path | None]:
    """CONFIG and FILE in either order: the .yaml/.yml one is the config (tunesmith.yaml when none is), the other
    the prompt file or request log of --from prompts|log."""
    configs = [a for a in args if a.suffix in (".yaml", ".yml")]
    others = [a for a in args if a.suffix not in (".yaml", ".yml")]
    if len(configs) > 1 or len(others) > 1:
        raise ConfigError(
            f"expected at most one config and one prompt file, got {', '.join(map(str, args))}",
            hint="tunesmith data generate [CONFIG] --from prompts FILE --out OUT",
        )
    return (configs[0] if configs else Path("tunesmith.yaml")), (others[0] if others else None)


def _with_teacher(cfg: Config, url: str | None, model: str | None) -> Config:
    """--teacher-url and --teacher-model over generate.teacher (both are needed when the config sets none)."""
    if url is None and model is None:
        return cfg
    base = cfg.generate.teacher
    if base is None and (url is None or model is None):
        raise ConfigError(
            "--teacher-url and --teacher-model go together when tunesmith.yaml sets no generate.teacher",
            hint="pass both, e.g. --teacher-url http://127.0.0.1:8000/v1 --teacher-model my-vendor-model",
        )
    fields = base.model_dump() if base is not None else {}
    fields.update({k: v for k, v in (("base_url", url), ("model", model)) if v is not None})
    cfg.generate.teacher = TeacherConfig(**fields)
    return cfg


def generate(
    args: Annotated[
        list[Path] | None,
        typer.Argument(
            help="[CONFIG] [FILE]: tunesmith.yaml (the default), and the prompt file of --from prompts.",
            show_default=False,
        ),
    ] = None,
    source: Annotated[
        str,
        typer.Option(
            "--from",
            callback=choice(*SOURCES),
            metavar="|".join(SOURCES),
            help="docs: questions and grounded answers from the passages of docs.paths, and near-domain refusals; "
            "prompts FILE: the teacher's answers to your prompts; data: to the user turns of data.paths; log: to "
            "the request log of tunesmith serve (monitor.database_url).",
        ),
    ] = "docs",
    out: Annotated[Path, typer.Option("--out", help="JSONL of drafts to write (canonical records, needs_review).")] = (
        Path("generated.jsonl")
    ),
    test_out: Annotated[
        Path | None,
        typer.Option("--test-out", help="With generate.holdout_docs: the held-out documents' questions, for test."),
    ] = None,
    teacher_url: Annotated[
        str | None, typer.Option("--teacher-url", help="The teacher's base URL (over generate.teacher.base_url).")
    ] = None,
    teacher_model: Annotated[
        str | None, typer.Option("--teacher-model", help="The teacher's model name (over generate.teacher.model).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Send the requests without asking (scripts).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace --out and --test-out if they exist.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print what was asked, spent and written as JSON.")] = False,
    overrides: SetOption = None,
) -> None:
    """Draft training examples with a teacher model; every one is tagged generated and needs_review.

    Shows the estimate of the requests (and their cost, with the teacher's prices) and asks before sending any;
    answers are cached under artifacts/, so a killed run continues where it stopped. `prepare` refuses the drafts
    until a person has reviewed them (tunesmith ui --review). Exit 2 for unusable input or no confirmation.

    Examples:
      tunesmith data generate --from docs --out generated.jsonl --yes
      tunesmith data generate --from docs --out gen.jsonl --test-out gen-test.jsonl --set generate.holdout_docs=0.2
      tunesmith data generate --from prompts prompts.txt --out distilled.jsonl --teacher-url http://127.0.0.1:8000/v1
      --teacher-model ft:gpt-4o-mini:acme
    """
    from tunesmith.generate import generate as run_generate

    config, file = _split_args(args or [])
    if source in ("docs", "data") and file is not None:
        raise ConfigError(f"--from {source} takes no file, got {file}", hint="name the file with --from prompts FILE")
    cfg = _with_teacher(load_config(config, overrides), teacher_url, teacher_model)
    kind = cast(Source, source)  # the option's callback checked it
    result = run_generate(
        cfg, kind, out, file=file, test_out=test_out, yes=yes, overwrite=overwrite, console=err_console
    )
    if as_json:
        typer.echo(json.dumps(result.to_json(), indent=2))
        return
    spent = result.spend
    cost = f", ${spent['cost_usd']:.4f}" if spent["cost_usd"] is not None else ""
    console.print(
        f"teacher {result.teacher['model']}: {spent['asked']} request(s) sent, {spent['cached']} from the cache{cost}",
        soft_wrap=True,
    )
    dropped = ", ".join(f"{n} {k}" for k, n in sorted(result.dropped.items())) or "none"
    console.print(
        f"wrote [bold]{result.written}[/] draft(s) to {result.out} ({result.refusals} refusal(s))"
        + (f" and {result.test_written} to {result.test_out}" if result.test_out else "")
        + f"; dropped: {dropped}",
        soft_wrap=True,
    )
    console.print(
        "every draft is tagged needs_review: review them with `tunesmith ui --review` (docs/review.md) before "
        "`tunesmith data prepare`",
        soft_wrap=True,
    )
