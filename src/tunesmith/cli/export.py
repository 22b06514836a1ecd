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

    Outputs are written atomically, each with a manifest.json naming the run and the base model, and a
    model_card.md: the card of the run's latest evaluation, or one that says the run was never evaluated.

    Examples:
      tunesmith export artifacts/train --merged models/support-merged
      tunesmith export artifacts/train --adapter models/support-adapter
      tunesmith export artifacts/train --merged out/merged --base Qwen/Qwen3-0.6B --dtype bfloat16
    """
    from tunesmith.errors import TunesmithError
    from tunesmith.evals.model_card import CARD_NAME, export_card
    from tunesmith.train.export import export_adapter, export_merged, load_run

    if merged is None and adapter is None:
        raise TunesmithError(
            "nothing to export: pass --merged OUT, --adapter OUT, or both",
            hint=f"tunesmith export {run} --merged OUT",
        )
    load_run(run)  # a clear error for a directory that is not a run, before anything is looked up
    if merged is not None:
        card = export_card(run, kind="merged")
        result = export_merged(run, merged, base=base, dtype=dtype, files={CARD_NAME: card.text})
        what = "full fine-tune copied" if result.base is None else f"adapter merged into {result.base}"
        console.print(f"merged model ({what}) at [bold]{result.out_dir}[/]")
    if adapter is not None:
        card = export_card(run, kind="adapter")
        result = export_adapter(run, adapter, base=base, files={CARD_NAME: card.text})
        rev = f"@{result.run.revision}" if result.run.revision and not base else ""
        console.print(f"adapter (base {result.base}{rev}) at [bold]{result.out_dir}[/]")
    source = f"the card of evaluation {card.evaluation}" if card.evaluation else "no evaluation names this run"
    console.print(f"{CARD_NAME} written with the export ({source})")
