"""`tunesmith train`: the train section of tunesmith.yaml; flags override keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunesmith.cli.pipeline import SetOption
from tunesmith.config import load_config

console = Console()


def train(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    method: Annotated[str | None, typer.Option(help="lora, dora, qlora or full (train.method).")] = None,
    epochs: Annotated[float | None, typer.Option(help="Epochs (train.epochs).")] = None,
    learning_rate: Annotated[
        float | None, typer.Option(help="Peak learning rate (train.learning_rate).")
    ] = None,
    overrides: SetOption = None,
) -> None:
    """Fine-tune the base model on the prepared dataset (artifacts/dataset) into artifacts/train.

    Examples:
      tunesmith train tunesmith.yaml
      tunesmith train tunesmith.yaml --method dora --epochs 2
      tunesmith train tunesmith.yaml --set train.lora.r=8
    """
    from tunesmith.pipeline import run_train

    flags = {"method": method, "epochs": epochs, "learning_rate": learning_rate}
    sets = [f"train.{k}={v}" for k, v in flags.items() if v is not None] + list(overrides or [])
    run_train(load_config(config, sets), console)
