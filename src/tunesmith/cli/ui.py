"""`tunesmith ui`: the local dashboard over the project (tunesmith/ui), its review mode (`--review`), and the
users of that mode (`tunesmith ui user add|remove|list`)."""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from tunesmith.cli.pipeline import SetOption
from tunesmith.cli.serve import CommandOrConfig
from tunesmith.config import load_config
from tunesmith.errors import ConfigError

console = Console()
err = Console(stderr=True, highlight=False)
ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="Path of tunesmith.yaml.")]

app = typer.Typer(cls=CommandOrConfig, invoke_without_command=True, rich_markup_mode="rich")
user_app = typer.Typer(no_args_is_help=True, help="The users of `tunesmith ui --review`.")
app.add_typer(user_app, name="user")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.callback()
def ui(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="Path of tunesmith.yaml.")] = Path("tunesmith.yaml"),
    host: Annotated[str | None, typer.Option(help="Bind address (ui.host, default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (ui.port, default 8080).")] = None,
    review: Annotated[
        bool,
        typer.Option("--review", help="Review mode: the review queue and its decisions, behind a login."),
    ] = False,
    overrides: SetOption = None,
) -> None:
    """Serve a dashboard of the project's datasets, runs, evaluations and traffic: read-only, or with --review,
    the review queue behind a login (docs/review.md).

    Examples:
      tunesmith ui
      tunesmith ui tunesmith.yaml --port 8090
      tunesmith ui user add ana --role reviewer --password-stdin < ana.pw
      tunesmith ui tunesmith.yaml --review
    """
    if ctx.invoked_subcommand is not None:
        return
    from tunesmith.ui.app import serve_ui
    from tunesmith.ui.auth import Users, users_path

    cfg = load_config(config, list(overrides or []))
    bind = host or cfg.ui.host
    if not is_loopback(bind):
        err.print(
            f"[bold yellow]warning:[/] tunesmith ui is bound to {bind}, not loopback: anyone who can reach it sees "
            "the project's data"
            + (
                ", and tries passwords; logins and cookies cross the network in clear text unless a TLS proxy fronts it"
                if review
                else ""
            )
        )
    if review and not Users(users_path(cfg)).list():
        err.print(
            "[yellow]no users yet: nobody can log in. Add one with "
            "`tunesmith ui user add NAME --role reviewer --password-stdin`[/]"
        )
    mode = "review mode" if review else "read-only"
    console.print(f"tunesmith ui ({mode}) on http://{bind}:{port or cfg.ui.port}/ (Ctrl-C to stop)")
    serve_ui(cfg, host=host, port=port, review=review)


def _password(stdin: bool) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = typer.prompt("password", hide_input=True)
    if typer.prompt("again", hide_input=True) != first:
        raise ConfigError("the two passwords differ", hint="type the same password twice")
    return str(first)


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The user's name, as they log in.")],
    role: Annotated[str, typer.Option("--role", help="viewer (reads), reviewer (decides) or admin.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin, not a prompt.")
    ] = False,
    config: ConfigOpt = Path("tunesmith.yaml"),
) -> None:
    """Add a user of `tunesmith ui --review`; the password is stored only as its argon2id hash, in
    .tunesmith/ui-users.json beside the artifacts (never in the repository).

    Examples:
      tunesmith ui user add ana --role reviewer
      printf '%s\\n' "$PW" | tunesmith ui user add ci-bot --role viewer --password-stdin
    """
    from tunesmith.ui.auth import Users, users_path

    users = Users(users_path(load_config(config)))
    user = users.add(name, role, _password(password_stdin))
    console.print(f"added {user.name} ({user.role}) to {users.path}")


@user_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The user's name.")], config: ConfigOpt = Path("tunesmith.yaml")
) -> None:
    """Remove a user; their open sessions end at their next request."""
    from tunesmith.ui.auth import Users, users_path

    if not Users(users_path(load_config(config))).remove(name):
        raise ConfigError(f"no user {name}", hint="`tunesmith ui user list` shows them")
    console.print(f"removed {name}")


@user_app.command("list")
def list_users(config: ConfigOpt = Path("tunesmith.yaml")) -> None:
    """The users and their roles (never their hashes)."""
    from tunesmith.ui.auth import Users, users_path

    for user in Users(users_path(load_config(config))).list():
        console.print(f"{user.name}\t{user.role}")
