"""`tunesmith docs index|search|list`: the document index (docs/documents.md)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunesmith.cli.pipeline import SetOption
from tunesmith.config import load_config

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
app = typer.Typer(
    no_args_is_help=True,
    rich_markup_mode="rich",
    help=(
        "Index the organisation's documents (docs.paths: PDF, DOCX, HTML, Markdown, text) and search them.\n\n"
        "Examples:\n\n"
        "  tunesmith docs index tunesmith.yaml\n\n"
        '  tunesmith docs search "how long do refunds take" --k 3\n\n'
        "  tunesmith docs list"
    ),
)
ConfigArg = Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")]
DEFAULT_CONFIG = Path("tunesmith.yaml")


@app.command("index")
def index_command(config: ConfigArg = DEFAULT_CONFIG, overrides: SetOption = None) -> None:
    """Read docs.paths into artifacts/docs/; only files that changed since the last index are read again.

    Exits 0 when at least one file was indexed, printing a finding for each file that could not be read (what is
    wrong, what to do); exits 2 when no file gave a passage.

    Examples:
      tunesmith docs index
      tunesmith docs index tunesmith.yaml --set docs.chunk_tokens=300
    """
    from tunesmith.docs import build_index

    build_index(load_config(config, overrides), console=console)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, in words.")],
    config: ConfigArg = DEFAULT_CONFIG,
    k: Annotated[int, typer.Option("--k", min=1, max=100, help="Passages to show.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the passages as JSON.")] = False,
    overrides: SetOption = None,
) -> None:
    """The k passages that best match QUERY, with their file, locator (page or heading path) and fused score.

    Indexes docs.paths first when the index is missing or out of date (stderr says so).

    Examples:
      tunesmith docs search "refund window"
      tunesmith docs search "warranty on lamps" tunesmith.yaml --k 3 --json
    """
    from tunesmith.docs import ensure_index

    index = ensure_index(load_config(config, overrides), console=err_console)
    hits = index.search([query], k)[0]
    if as_json:
        rows = [{**asdict(h.passage), "score": round(h.score, 6)} for h in hits]
        typer.echo(json.dumps({"query": query, "passages": rows}, indent=2, ensure_ascii=False))
        return
    for n, h in enumerate(hits, 1):
        p = h.passage
        where = f"{p.source}, {p.locator}" if p.locator else p.source
        console.print(f"[bold]{n}. {escape(where)}[/]  [dim]score {h.score:.4f}  {p.id}[/]", soft_wrap=True)
        console.print(escape(p.text), soft_wrap=True)
        console.print()
    if not hits:
        console.print("no passages")


@app.command("list")
def list_command(
    config: ConfigArg = DEFAULT_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="Print the files and findings as JSON.")] = False,
    overrides: SetOption = None,
) -> None:
    """The files the index read (format, pages, passages, status) and every finding.

    Examples:
      tunesmith docs list
      tunesmith docs list tunesmith.yaml --json
    """
    from tunesmith.docs import describe

    info = describe(load_config(config, overrides))
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"documents ({info['counts'].get('passages', 0)} passages, index {info['index_hash'][:12]})")
    for col in ("file", "format", "pages", "passages", "status", "sha256"):
        table.add_column(col)
    for r in info["files"]:
        table.add_row(
            escape(r["source"]),
            r["format"],
            str(r.get("pages", "")),
            str(r["passages"]),
            r["status"],
            (r["sha256"] or "-")[:12],
        )
    console.print(table)
    for f in info["findings"]:
        console.print(
            f"{f['severity']} {escape(str(f.get('file', '')))}: {escape(f['kind'])}: {escape(f['message'])}",
            soft_wrap=True,
        )
        if f.get("hint"):
            console.print(f"  what to do: {escape(f['hint'])}", soft_wrap=True)
    if info["stale"]:
        console.print(f"[yellow]out of date: {info['stale']}; run `tunesmith docs index`[/]")
