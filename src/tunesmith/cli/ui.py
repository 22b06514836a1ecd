"""`tunesmith ui`: the local dashboard over the project (tunesmith/ui)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunesmith.cli.pipeline import SetOption
from tunesmith.config import load_config

console = Console()


def ui(
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")] = Path("tunesmith.yaml"),
    host: Annotated[str | None, typer.Option(help="Bind address (ui.host, default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ui.port, default 8080).")] = None,
    overrides: SetOption = None,
) -> None:
    """Serve a read-only dashboard of the project's datasets, runs, evaluations and traffic.

    Examples:
      tunesmith ui
      tunesmith ui tunesmith.yaml --port 8090
    """
    from tunesmith.ui.app import serve_ui

    cfg = load_config(config, list(overrides or []))
    console.print(f"tunesmith ui on http://{host or cfg.ui.host}:{port or cfg.ui.port}/ (Ctrl-C to stop)")
    serve_ui(cfg, host=host, port=port)
