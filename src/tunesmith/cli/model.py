"""`tunesmith model`: base models. `tiny` builds an offline model for tests and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

app = typer.Typer(help="Base models: build the offline tiny model.", no_args_is_help=True)
console = Console()


@app.command("tiny")
def tiny(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model and tokenizer into.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random initialisation.")] = 0,
    size: Annotated[str, typer.Option("--size", help="xs (unit tests), s (demo) or m (benchmarks).")] = "xs",
) -> None:
    """Build a small Llama-architecture model and BPE tokenizer offline, deterministically from SEED.

    Examples:
      tunesmith model tiny --out models/tiny --seed 1
      tunesmith model tiny --out models/tiny-m --size m
    """
    from tunesmith.errors import ConfigError
    from tunesmith.models.tiny import SIZES, build_tiny_model

    if size not in SIZES:
        raise ConfigError(f"unknown size '{size}'", hint=f"choose one of {', '.join(SIZES)}")
    chosen: Literal["xs", "s", "m"] = size  # type: ignore[assignment]
    path = build_tiny_model(out, seed=seed, size=chosen)
    console.print(f"built tiny model ({size}, seed {seed}) at [bold]{path}[/]")
