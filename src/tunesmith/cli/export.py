"""`tunesmith export RUN --merged OUT | --adapter OUT`: parse, call tunesmith.train.export, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console(highlight=False)


def export(
    run: Annotated[Path, typer.Argument(help="Training run directory (artifacts/train), with adapter/ or model/.")],
    merged: Annotated[
        Path | None,
        typer.Option("--merged", help="Write the adapter merged into its base: a plain transformers model."),
    ] = None,
    adapter: Annotated[
        Path | None,
        typer.Option("--adapter", help="Write the adapter alone, with its base model id and revision pinned."),
    ] = None,
    base: Annotated[
        str | None,
        typer.Option("--base", help="Override the base model named in the run manifest (Hub id or directory)."),
    ] = None,
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (the base's own), float32, bfloat16 or float16; --merged only.")
    ] = "auto",
) -> None:
    """Export a training run: merged into its base (safetensors, no peft needed) or as an adapter.

    Outputs are written atomically, each with a manifest.json naming the run and the base model.

    Examples:
      tunesmith export artifacts/train --merged models/support-merged
      tunesmith export artifacts/train --adapter models/support-adapter
      tunesmith export artifacts/train --merged out/merged --base Qwen/Qwen3-0.6B --dtype bfloat16
    """
    from tunesmith.errors import TunesmithError
    from tunesmith.train.export import export_adapter, export_merged

    if merged is None and adapter is None:
        raise TunesmithError(
            "nothing to export: pass --merged OUT, --adapter OUT, or both",
            hint=f"tunesmith export {run} --merged OUT",
        )
    if merged is not None:
        result = export_merged(run, merged, base=base, dtype=dtype)
        what = "full fine-tune copied" if result.base is None else f"adapter merged into {result.base}"
        console.print(f"merged model ({what}) at [bold]{result.out_dir}[/]")
    if adapter is not None:
        result = export_adapter(run, adapter, base=base)
        rev = f"@{result.run.revision}" if result.run.revision and not base else ""
        console.print(f"adapter (base {result.base}{rev}) at [bold]{result.out_dir}[/]")
