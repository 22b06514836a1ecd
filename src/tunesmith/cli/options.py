"""Command-line options made from the config's pydantic fields, so that a setting's help, choices and default are
declared once, in its section (the data and train commands share them)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import typer
from pydantic import BaseModel

from tunesmith.config import DataConfig, EvalConfig, TrainConfig, literal_choices, nearest

SECTIONS: dict[type[BaseModel], str] = {DataConfig: "data", TrainConfig: "train", EvalConfig: "eval"}


def choice(*values: str) -> Callable[[str | None], str | None]:
    """An option callback: an unknown value is a usage error (exit 2) that lists the valid ones."""

    def check(value: str | None) -> str | None:
        if value is not None and value not in values:
            close = nearest(value, values)
            guess = f"; did you mean {close!r}?" if close else ""
            raise typer.BadParameter(f"{value!r} is not one of: {', '.join(values)}{guess}")
        return value

    return check


def config_option(
    name: str, *flags: str, section: type[BaseModel] = DataConfig, shown: Any = None, **extra: Any
) -> Any:
    """The typer option of a key of the data, train or eval section, made from its pydantic field: the help is the
    field's description, a closed set of names is checked against its Literal, and the default is None, which means
    "the section's value", so that no default is declared twice. `shown` renders the default for the help."""
    field = section.model_fields[name]
    key = f"{SECTIONS[section]}.{name}"
    choices = literal_choices(field.annotation)
    default = field.get_default(call_default_factory=True)
    shown = "unset" if default is None else shown(default) if shown else json.dumps(default)
    if choices:
        extra.setdefault("callback", choice(*choices))
        extra.setdefault("metavar", "|".join(choices))
    return typer.Option(*flags, help=f"{field.description} ({key}; default {shown})", show_default=False, **extra)
