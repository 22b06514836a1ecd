"""`tunesmith train`: the train section of tunesmith.yaml; flags override keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from tunesmith.cli.options import config_option
from tunesmith.cli.pipeline import SetOption, YesOption
from tunesmith.config import TrainConfig, load_config
from tunesmith.errors import ConfigError
from tunesmith.progress import status
from tunesmith.train.masking import LabelReport

console = Console()


class _TrainGroup(TyperGroup):
    """`tunesmith train CONFIG` trains (the `start` command); `tunesmith train cancel RUN_DIR` is a subcommand."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]  # typer's Context narrows its vendored click's
        if args and args[0] not in self.commands:  # `train --help` too: the training command's help
            args = ["start", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_TrainGroup,
    help="Fine-tune the base model (locally, or as a vendor job); `train cancel RUN_DIR` cancels a vendor job.",
    no_args_is_help=True,
)


# Made from the train section's fields: their help and choices, and None for "the section's value".
MethodOpt = Annotated[str | None, config_option("method", "--method", section=TrainConfig)]
EpochsOpt = Annotated[float | None, config_option("epochs", "--epochs", section=TrainConfig)]
LearningRateOpt = Annotated[float | None, config_option("learning_rate", "--learning-rate", section=TrainConfig)]


def cancel(
    run_dir: Annotated[Path, typer.Argument(help="The run directory of a vendor job (artifacts/train).")],
) -> None:
    """Cancel the vendor fine-tuning job recorded in RUN_DIR (its vendor_job.json).

    Example:
      tunesmith train cancel artifacts/train
    """
    from tunesmith.train.vendor import cancel as cancel_job
    from tunesmith.train.vendor import read_state

    status = cancel_job(run_dir)
    state = read_state(run_dir) or {}
    console.print(f"{state.get('backend')} job {state.get('job_id')}: cancel requested ({status})")


def train(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")],
    method: MethodOpt = None,
    epochs: EpochsOpt = None,
    learning_rate: LearningRateOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the estimate and the label report, then stop.")
    ] = False,
    resume: Annotated[
        bool | None,
        typer.Option("--resume/--no-resume", help="Resume from the last checkpoint (default: when one exists)."),
    ] = None,
    num_processes: Annotated[
        int, typer.Option("--num-processes", help="Launch N processes with accelerate (DDP).")
    ] = 1,
    yes: YesOption = False,
    overrides: SetOption = None,
) -> None:
    """Fine-tune the base model on the prepared dataset (artifacts/dataset) into artifacts/train.

    An interrupted run resumes from its last checkpoint when started again.

    Examples:
      tunesmith train tunesmith.yaml --dry-run
      tunesmith train tunesmith.yaml --method dora --epochs 2
      tunesmith train tunesmith.yaml --set train.lora.r=8 --set train.early_stopping_patience=2
      tunesmith train tunesmith.yaml --num-processes 2
      tunesmith train tunesmith.yaml --set train.backend=openai --yes
      tunesmith train cancel artifacts/train      (cancel the vendor job of a run)
    """
    flags = {"method": method, "epochs": epochs, "learning_rate": learning_rate}
    sets = [f"train.{k}={v}" for k, v in flags.items() if v is not None] + list(overrides or [])
    cfg = load_config(config, sets)
    if cfg.train.backend != "local" and (dry_run or num_processes > 1):
        raise ConfigError(
            f"--dry-run and --num-processes are for local training, not train.backend: {cfg.train.backend}",
            hint="a vendor run prints its token and cost estimate before it asks to upload",
        )
    if num_processes > 1:
        from tunesmith.data.stage import ensure_dataset

        ensure_dataset(cfg)  # here, once, rather than racing in every process
        raise typer.Exit(subprocess.call(_launch(config, sets, num_processes, resume)))
    if dry_run:
        from tunesmith.train.recipe import dry_run as measure

        with status(console, DRY_RUN_STATUS[cfg.train.objective]):
            found = measure(cfg)
        render_labels(found.labels)
        table = Table(title=found.title, show_header=False)
        for k, v in found.rows:
            table.add_row(k, v)
        console.print(table)
        if found.note:
            console.print(found.note)
        return
    from tunesmith.train.recipe import run_train

    run_train(cfg, console, resume=resume, yes=yes)


DRY_RUN_STATUS = {
    "sft": "tokenizing, checking labels and measuring a few training steps...",
    "dpo": "tokenizing the pairs and checking what will be trained...",
}


def _launch(config: Path, sets: list[str], num_processes: int, resume: bool | None) -> list[str]:
    """accelerate is the launcher: --multi_gpu also starts real gloo DDP on CPU (--cpu would start one process)."""
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        str(num_processes),
        "-m",
        "tunesmith.train",
        str(config),
        *[a for s in sets for a in ("--set", s)],
    ]
    if resume is not None:
        cmd.append("--resume" if resume else "--no-resume")
    return cmd


app.command("start")(train)
app.command("cancel")(cancel)


def render_labels(labels: LabelReport) -> None:
    table = Table(title="what will be trained")
    table.add_column("role")
    table.add_column("tokens", justify="right")
    table.add_column("trained", justify="right")
    for role, n in sorted(labels.role_tokens.items()):
        table.add_row(role, f"{n:,}", f"{labels.role_trained.get(role, 0):,}")
    console.print(table)
    console.print(
        f"{labels.examples} examples, {labels.trained_tokens:,} of {labels.tokens:,} tokens trained; "
        f"{labels.turns_ending_in_eot} of {labels.trained_turns} assistant turns end with a trained end-of-turn "
        f"token; {labels.truncated} truncated at train.max_seq_len"
    )
