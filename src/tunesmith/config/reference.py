"""The configuration reference in README.md, generated from the fields: `python -m tunesmith.config --markdown`.

The table is the only place a default is documented, so it cannot drift from the one place a default is declared.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from tunesmith.config.fields import members, model_in
from tunesmith.config.project import Config

TABLE_START = "<!-- config-table: generated from the fields of tunesmith.config by "
TABLE_END = "<!-- /config-table -->"
TABLE_COMMAND = "python -m tunesmith.config --write README.md"


def _sub_model(ann: Any) -> type[BaseModel] | None:
    """The section a key holds: the model itself, or the model of a dict's values (eval.prices: arm -> prices)."""
    model = model_in(ann)
    if model is None:
        mapping = next((a for a in members(ann) if get_origin(a) is dict), None)
        model = model_in(get_args(mapping)[1]) if mapping is not None else None
    return model


def _shown(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    return f"`{json.dumps(value, ensure_ascii=False)}`".replace("|", "\\|")


def markdown_table() -> str:
    """Every key of tunesmith.yaml with its default and description, as the README's markdown table."""
    rows = ["| key | default | meaning |", "|---|---|---|"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, field in model.model_fields.items():
            if model is Config and name == "root":
                continue
            key, sub = f"{prefix}{name}", _sub_model(field.annotation)
            meaning = (field.description or "").replace("|", "\\|")
            if model is Config:
                rows.append(f"| **`{key}`** | | {meaning} |".replace("|  |", "| |"))
            elif sub is not None:
                rows.append(f"| `{key}` | | {meaning} |")
            else:
                rows.append(f"| `{key}` | {_shown(field)} | {meaning} |")
            if sub is not None:
                walk(sub, f"{key}.")

    walk(Config, "")
    return "\n".join(rows) + "\n"


def _with_table(text: str) -> str:
    """`text` (README.md) with its generated table replaced by the current one."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START}...{TABLE_END} markers")
    head = text.index("\n", start) + 1
    return text[:head] + markdown_table() + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tunesmith.config", description=markdown_table.__doc__)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print the table")
    group.add_argument("--write", metavar="README", type=Path, help="replace the table between the markers")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown_table(), end="")
    else:
        args.write.write_text(_with_table(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0
