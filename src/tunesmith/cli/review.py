"""`tunesmith review`: what people's blind A/B judgments add up to (`ab-report`), and their export as DPO
preference pairs and as the judge's human labels (`ab-export`). The judging itself happens in `tunesmith ui
--review`, at /review/ab (docs/review.md, "Blind A/B")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tunesmith.cli.pipeline import SetOption
from tunesmith.config import load_config
from tunesmith.errors import ConfigError

console = Console()
ConfigArg = Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")]
app = typer.Typer(no_args_is_help=True, help="Blind A/B judgments: the preference rates, and their exports.")


@app.command("ab-report")
def ab_report(
    config: ConfigArg = Path("tunesmith.yaml"),
    eval_dir: Annotated[
        Path | None, typer.Option("--eval", help="The evaluation directory; the latest one (artifacts/eval) if unset.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON (results.json's shape).")] = False,
    overrides: SetOption = None,
) -> None:
    """Per pair of arms, each one's human preference rate (ties half) with a 95% bootstrap CI, from the judgments in
    artifacts/review/ab.jsonl of the answers that evaluation holds. `tunesmith eval` puts the same figures in
    results.json and the report.

    Examples:
      tunesmith review ab-report tunesmith.yaml
      tunesmith review ab-report tunesmith.yaml --eval runs/lora-r16/eval --json
    """
    from tunesmith.evals.ab import human_preference_of
    from tunesmith.evals.results import read_results

    cfg = load_config(config, overrides)
    human = human_preference_of(cfg, read_results(eval_dir or cfg.stage_dir("eval")))
    if as_json:
        print(json.dumps(None if human is None else human.model_dump(mode="json"), indent=2))
        return
    if human is None:
        console.print("no blind A/B judgment yet: judge at /review/ab in `tunesmith ui --review`")
        return
    table = Table(title=f"Human preference: {human.judgments} judgments by {human.reviewers} reviewer(s)")
    for column in ("pair", "first preferred [95% CI]", "second preferred [95% CI]", "W / T / L", "questions"):
        table.add_column(column, justify="left" if column == "pair" else "right")
    for p in human.pairs:
        a, b = p.arms
        table.add_row(
            f"{a} vs {b}",
            f"{p.win_rate[a]:.3f} [{p.ci[a][0]:.3f}, {p.ci[a][1]:.3f}]",
            f"{p.win_rate[b]:.3f} [{p.ci[b][0]:.3f}, {p.ci[b][1]:.3f}]",
            f"{p.wins[a]} / {p.ties} / {p.wins[b]}",
            str(p.items),
        )
    console.print(table)
    if human.stale:
        console.print(f"{human.stale} judgment(s) of answers this evaluation no longer holds are left out.")


@app.command("ab-export")
def ab_export(
    config: ConfigArg = Path("tunesmith.yaml"),
    pairs_out: Annotated[
        Path | None, typer.Option("--pairs-out", help="Write DPO preference pairs here (JSONL; ties skipped).")
    ] = None,
    labels_out: Annotated[
        Path | None,
        typer.Option("--labels-out", help="Write the judge's human labels here (eval.judge.human_labels' format)."),
    ] = None,
    dimension: Annotated[
        list[str] | None,
        typer.Option("--dimension", help="Label this judge dimension (repeatable); every rubric dimension if unset."),
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")] = False,
    overrides: SetOption = None,
) -> None:
    """Export the judgments: as preference pairs (the preferred answer chosen, the other rejected, tagged `reviewed`
    and `ab`), and as human labels of eval.judge.arm against eval.reference_arm, for the judge's Cohen's kappa.

    Examples:
      tunesmith review ab-export tunesmith.yaml --pairs-out data/ab-pairs.jsonl
      tunesmith review ab-export tunesmith.yaml --labels-out data/human_verdicts.jsonl --dimension helpfulness
    """
    from tunesmith.artifacts import dumps, write_file_checked
    from tunesmith.evals.ab import human_labels, preference_pairs
    from tunesmith.review.ab import AbStore

    if pairs_out is None and labels_out is None:
        raise ConfigError("nothing to export", hint="pass --pairs-out FILE, --labels-out FILE or both")
    cfg = load_config(config, overrides)
    judgments = AbStore(cfg.stage_dir("review")).judgments()
    if pairs_out is not None:
        pairs = preference_pairs(judgments)
        write_file_checked(pairs_out, (dumps(p) + "\n" for p in pairs), overwrite=overwrite)
        console.print(
            f"wrote {len(pairs)} preference pair(s) to {pairs_out} ({len(judgments)} judgments, ties skipped)"
        )
    if labels_out is not None:
        judge = cfg.eval.judge
        if judge is None and not dimension:
            raise ConfigError("no eval.judge: name the dimensions to label", hint="--dimension helpfulness")
        dims = list(dimension or (judge.rubric if judge else []))
        arm = judge.arm if judge else "fine_tuned"
        labels = human_labels(judgments, arm, cfg.eval.reference_arm, dims)
        write_file_checked(labels_out, (dumps(r) + "\n" for r in labels), overwrite=overwrite)
        console.print(
            f"wrote {len(labels)} label(s) of {arm} vs {cfg.eval.reference_arm} to {labels_out}; "
            "set eval.judge.human_labels to it"
        )
