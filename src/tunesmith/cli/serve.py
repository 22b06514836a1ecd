"""`tunesmith serve`, `tunesmith serve promote` and `tunesmith monitor` (with `monitor export-review`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from tunesmith.cli.pipeline import SetOption
from tunesmith.config import load_config
from tunesmith.errors import GateFailed

console = Console()
DEFAULT_CONFIG = Path("tunesmith.yaml")
ConfigArg = Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")]


class CommandOrConfig(TyperGroup):
    """A group whose own command takes CONFIG: `serve CONFIG` runs the server, `serve promote RUN` the subcommand.

    click would read `promote` as the group's CONFIG argument; a first argument that names a subcommand is one.
    Otherwise the group's own options may follow CONFIG (`monitor CONFIG --since 7d`), as in any command.
    """

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:  # type: ignore[override]  # typer's Context narrows its vendored click's
        if args and args[0] in self.commands:
            super().parse_args(ctx, [])
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        ctx.allow_interspersed_args = True
        return super().parse_args(ctx, args)


serve_app = typer.Typer(cls=CommandOrConfig, invoke_without_command=True, rich_markup_mode="rich")
monitor_app = typer.Typer(cls=CommandOrConfig, invoke_without_command=True, rich_markup_mode="rich")


@serve_app.callback()
def serve(
    ctx: typer.Context,
    config: ConfigArg = DEFAULT_CONFIG,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Also serve a run id, or a run directory (NAME=DIR names it)."),
    ] = None,
    host: Annotated[str | None, typer.Option(help="Bind address (serve.host, default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (serve.port, default 8000).")] = None,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="TUNESMITH_API_KEY", help="Require Authorization: Bearer KEY."),
    ] = None,
    engine: Annotated[
        str | None, typer.Option(help="hf (default), llamacpp, or vllm (CUDA only): serve.engine.")
    ] = None,
    overrides: SetOption = None,
) -> None:
    """Serve the base model, the promoted run and any --model behind an OpenAI-compatible API.

    Examples:
      tunesmith serve tunesmith.yaml --api-key $KEY
      tunesmith serve tunesmith.yaml --model 3f2a9c0d1e4b --port 8080
      tunesmith serve tunesmith.yaml --engine llamacpp
      tunesmith serve promote 3f2a9c0d1e4b
    """
    if ctx.invoked_subcommand is not None:
        return
    from tunesmith.serve.server import serve as run_server

    flags = {"host": host, "port": port, "engine": engine}
    cfg = load_config(config, [f"serve.{k}={v}" for k, v in flags.items() if v is not None] + list(overrides or []))
    console.print(f"serving on http://{cfg.serve.host}:{cfg.serve.port}/v1 (OpenAI-compatible); Ctrl-C stops")
    run_server(cfg, models=model, api_key=api_key)


@serve_app.command("promote")
def promote(
    run: Annotated[str, typer.Argument(help="Run id (see `tunesmith runs list`).")],
    config: ConfigArg = DEFAULT_CONFIG,
) -> None:
    """Serve RUN from now on: refused (exit 1) when it has no evaluation or a gate failed.

    Examples:
      tunesmith runs list
      tunesmith serve promote 3f2a9c1d0b7e
    """
    from tunesmith.registry import Registry

    served = Registry(load_config(config)).promote(run)
    console.print(f"[green]promoted[/] run {served.run_id} (dataset {served.dataset_hash}); restart `tunesmith serve`")


@monitor_app.callback()
def monitor(
    ctx: typer.Context,
    config: ConfigArg = DEFAULT_CONFIG,
    since: Annotated[str | None, typer.Option(help="Window of traffic: 30m, 12h, 7d (monitor.since).")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default artifacts/monitor).")] = None,
    overrides: SetOption = None,
) -> None:
    """Compare recent traffic with the served model's training data; exit 1 when drift or quality fires.

    Writes drift.json and drift.html. Run it from cron, and act on exit code 1 (see docs/monitoring.md).

    Examples:
      tunesmith monitor tunesmith.yaml
      tunesmith monitor tunesmith.yaml --since 24h
    """
    if ctx.invoked_subcommand is not None:
        return
    from tunesmith.monitor.run import run_monitor

    result = run_monitor(load_config(config, list(overrides or [])), since=since, out_dir=out).result
    _render(result)
    if result["fired"]:
        raise GateFailed(
            "monitoring fired: " + "; ".join(result["reasons"]),
            hint="review the traffic: tunesmith monitor export-review --out review.jsonl",
        )


def _render(result: dict[str, Any]) -> None:
    d, o = result["drift"], result["outcomes"]
    console.print(
        f"{d['n_traffic']} prompts vs {d['n_reference']} training prompts: AUC {d['auc']:.3f}, "
        f"MMD p={d['mmd_p']:.3f}, unseen topics {d['unseen_share']:.0%}, length PSI {d['length_psi']:.3f}, "
        f"refusals {o['refusal_rate']:.0%} (scope guard {o['guarded_rate']:.0%}, model "
        f"{o['refusal_rate'] - o['guarded_rate']:.0%}; {o['reasked_rate']:.0%} more asked again and answered), "
        f"mean rating {o['mean_rating']}"
    )
    for example in d["unseen_examples"][:5]:
        console.print(f"  unseen: {example}", soft_wrap=True)
    g = result["answer_guards"]
    if g["hit"]:
        parts = ", ".join(f"{k} {v['count']}" for k, v in [*g["by_action"].items(), *g["by_guard"].items()])
        console.print(f"answer guards hit {g['hit']} of {g['n']} answers ({g['rate']:.1%}): {parts}", markup=False)
    used = result.get("sources") or {}
    if used.get("requests"):
        top = ", ".join(f"{u['source']} ({u['requests']})" for u in used["by_source"][:10])
        console.print(
            f"documents used by {used['requests']} answers with retrieval: {top}", soft_wrap=True, markup=False
        )
    console.print("[red]DRIFT[/]" if result["fired"] else "[green]no drift[/]")


@monitor_app.command("export-review")
def export_review(
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSONL for review.")],
    config: ConfigArg = DEFAULT_CONFIG,
    since: Annotated[str | None, typer.Option(help="Window of traffic (monitor.since).")] = None,
    pairs: Annotated[
        bool,
        typer.Option("--pairs", help="Write low-rated answers with a correction as DPO pairs (correction chosen)."),
    ] = False,
) -> None:
    """Export unseen-topic and low-rated traffic, redacted, as records to review and add to the next dataset.

    Examples:
      tunesmith monitor export-review --out review.jsonl
      tunesmith data prepare review.jsonl --parent artifacts/dataset --out artifacts/dataset
      tunesmith monitor export-review --pairs --out review_pairs.jsonl
      tunesmith data prepare review_pairs.jsonl --parent artifacts/pairs --out artifacts/pairs-v2
    """
    from tunesmith.monitor.run import export_review as export

    n = export(load_config(config), out, since=since, pairs=pairs)
    console.print(f"wrote {n} records to {out}; review them, then: tunesmith data prepare ... --parent DIR")
