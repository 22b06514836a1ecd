"""`tunesmith`: the entry point. Every command parses, calls the API, renders; no logic lives here.

All user errors surface here, once: `error: FILE:LINE: message`, `hint: ...`, and the error's exit code (2 for
unusable input). Any other exception is a bug: one line and exit code 3, never 1 (which means "the check found
errors"), so that scripts can tell a crash from findings. `--debug` (or TUNESMITH_DEBUG=1) shows the traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.console import Console

from tunesmith.errors import EXIT_INTERNAL, TunesmithError

err_console = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="tunesmith",
    help="Fine-tune LLMs on your own data, and prove it paid off against prompting and retrieval.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state = {"debug": os.environ.get("TUNESMITH_DEBUG") == "1"}


def _version(value: bool) -> None:
    if value:
        import tunesmith

        typer.echo(f"tunesmith {tunesmith.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Fine-tune LLMs on your own data, and prove it paid off against prompting and retrieval.

    Start with [bold]tunesmith quickstart[/bold]: it runs the whole loop on a bundled example with a tiny local model.
    """
    if debug:
        _state["debug"] = True


def _register() -> None:
    # Imported here so that `tunesmith --help` stays fast: each module imports its heavy libraries lazily.
    from tunesmith.cli import (
        augment,
        data,
        docs,
        evaluate,
        export,
        generate,
        init,
        inspect,
        model,
        pipeline,
        review,
        runs,
        serve,
        train,
        ui,
    )

    app.command("quickstart")(pipeline.quickstart)
    app.command("run")(pipeline.run)
    app.command("init")(init.init)
    app.add_typer(model.app, name="model")
    app.add_typer(data.app, name="data")
    data.app.command("inspect")(inspect.inspect)
    data.app.command("add-refusals")(augment.add_refusals)
    data.app.command("add-negatives")(augment.add_negatives)
    data.app.command("generate")(generate.generate)
    app.add_typer(docs.app, name="docs")
    app.command("export")(export.export)
    app.add_typer(train.app, name="train")
    app.add_typer(evaluate.app, name="eval")
    app.add_typer(serve.serve_app, name="serve")
    app.add_typer(serve.monitor_app, name="monitor")
    app.add_typer(runs.app, name="runs")
    app.add_typer(ui.app, name="ui")
    app.add_typer(review.app, name="review")


_register()


def print_error(e: TunesmithError) -> None:
    where = f"{e.location}: " if e.location else ""
    err_console.print(f"[bold red]error:[/] {where}{e.message}", soft_wrap=True)
    if e.hint:
        err_console.print(f"[yellow]hint:[/] {e.hint}", soft_wrap=True)


def print_internal_error(e: BaseException) -> None:
    """One line for a bug: its type and the start of its message, never a megabyte of repr."""
    first = (str(e).splitlines() or [""])[0]
    short = first if len(first) <= 200 else first[:200] + "..."
    err_console.print(f"error: internal error: {type(e).__name__}: {short}", soft_wrap=True, markup=False)
    err_console.print("hint: rerun with --debug and report the traceback", soft_wrap=True, markup=False)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code (in-process, so tests need no subprocess).

    typer renders its own usage errors (exit 2) and exits through SystemExit; our errors arrive as TunesmithError.
    """
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="tunesmith", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except TunesmithError as e:
        if _state["debug"]:
            raise
        print_error(e)
        return e.exit_code
    except Exception as e:
        if _state["debug"]:
            raise
        print_internal_error(e)
        return EXIT_INTERNAL
    return 0


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
