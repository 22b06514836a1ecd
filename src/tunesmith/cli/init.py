"""`tunesmith init [DIR]`: parse, ask for what the flags do not say (in a terminal, without --yes), call
tunesmith.init, render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(highlight=False, soft_wrap=True)


def _ask_number(question: str, default: float | None) -> float | None:
    shown = "" if default is None else f"{default:g}"
    while True:
        answer = typer.prompt(question, default=shown, show_default=bool(shown)).strip()
        if answer.lower() in ("", "none", "-"):
            return None
        try:
            return float(answer)
        except ValueError:
            console.print(f"[yellow]{answer!r} is not a number; leave it blank for none[/]")


def init(
    directory: Annotated[Path, typer.Argument(help="The folder with your data files.")] = Path("."),
    test: Annotated[
        list[Path] | None,
        typer.Option("--test", help="Your test file (default: the .jsonl files named test*); repeatable."),
    ] = None,
    min_gain: Annotated[
        float | None,
        typer.Option(
            "--min-gain", help="ROUGE-L the fine-tune must gain over the best alternative arm (default 0.05)."
        ),
    ] = None,
    max_tokens: Annotated[
        float | None,
        typer.Option("--max-tokens", help="Ceiling on the fine-tune's tokens per request (prompt + completion)."),
    ] = None,
    max_latency_ms: Annotated[
        float | None, typer.Option("--max-latency-ms", help="Ceiling on the fine-tune's p50 latency, in ms.")
    ] = None,
    base: Annotated[
        str | None,
        typer.Option("--base", help="Base model: Hub id or local directory (default: the bundled SmolLM2-135M)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Project name (default: the folder's name).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Ask nothing: the flags and the defaults.")] = False,
) -> None:
    """Write a commented tunesmith.yaml for the data files in DIRECTORY, with your objectives as quality gates.

    Detects the data files and their formats, a test file (test*.jsonl, or --test), a docs/ folder of documents,
    and the task; asks for the objectives in a terminal unless --yes. Never replaces an existing tunesmith.yaml.

    Examples:
      tunesmith init
      tunesmith init my-project --yes --min-gain 0.05 --max-tokens 800 --max-latency-ms 1500
      tunesmith init . --test data/reviewed-test.jsonl --base Qwen/Qwen3-0.6B --yes
    """
    from tunesmith.init import Objectives, init_project, survey

    tests = list(test or [])
    gain: float | None = Objectives().min_gain if min_gain is None else min_gain
    if not yes and sys.stdin.isatty():
        found = survey(directory, test=tests)
        console.print("data: " + ", ".join(f"{f.path} ({f.format})" for f in found.data))
        if not found.test:
            answer = typer.prompt("test file (blank: hold out 10% of the data)", default="", show_default=False)
            tests = [Path(answer.strip())] if answer.strip() else []
        gain = _ask_number("ROUGE-L the fine-tune must gain over the best alternative (blank: no gate)", gain)
        max_tokens = _ask_number("ceiling on tokens per request (blank: none)", max_tokens)
        max_latency_ms = _ask_number("ceiling on p50 latency in ms (blank: none)", max_latency_ms)
    objectives = Objectives(gain, max_tokens, max_latency_ms)
    result = init_project(directory, objectives, test=tests, name=name, base=base)
    found = result.survey
    console.print(f"wrote [bold]{result.path}[/]")
    console.print("  data: " + ", ".join(f"{f.path} ({f.format})" for f in found.data))
    console.print("  test: " + (", ".join(f.path for f in found.test) or "none: 10% of the data is held out"))
    if found.docs:
        console.print(f"  documents: {found.docs}/")
    task = "preference pairs: DPO" if found.task == "preference" else "conversations: supervised fine-tuning"
    console.print(f"  task: {task}")
    for gate in result.gates:
        console.print(f"  gate: {gate}")
    for path, why in found.unused:
        console.print(f"  [yellow]not used[/]: {path}: {why.splitlines()[0]}")
    console.print("next:")
    for command in result.next_commands:
        console.print(f"  {command}")
