"""Reading the schema's annotations: the type at an error's location, the valid keys and names there, and the
nearest valid name to a typo. The loader's messages and the reference table both walk the sections this way."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from tunesmith.config.project import Config


def annotation_at(loc: tuple[Any, ...]) -> Any:
    """The type annotation of the value at `loc` (pydantic's error location), or None where it cannot be followed.

    A dict key is addressed as pydantic does: `("eval", "prices", "fine_tunde", "[key]")` is the key itself."""
    ann: Any = Config
    i = 0
    while i < len(loc):
        key = loc[i]
        model = model_in(ann)
        if model is not None:
            field = model.model_fields.get(key) if isinstance(key, str) else None
            if field is None:
                return None
            ann = field.annotation
        else:
            container = next((a for a in members(ann) if get_origin(a) in (list, tuple, set, frozenset, dict)), None)
            if container is None:
                return None
            args = get_args(container)
            if get_origin(container) is dict:
                if i + 1 < len(loc) and loc[i + 1] == "[key]":
                    return args[0] if args else None
                ann = args[1] if len(args) > 1 else None
            elif isinstance(key, int):
                ann = args[0] if args else None
            else:
                return None
        i += 1
    return ann


def members(ann: Any) -> tuple[Any, ...]:
    """The alternatives of a union (`X | None`), or the annotation alone."""
    return get_args(ann) if get_origin(ann) in (Union, UnionType) else (ann,)


def model_in(ann: Any) -> type[BaseModel] | None:
    return next((a for a in members(ann) if isinstance(a, type) and issubclass(a, BaseModel)), None)


def literal_choices(ann: Any) -> tuple[Any, ...]:
    """The valid values of a closed set of names (`Literal[...]`, possibly `| None`); () when it is not one."""
    return tuple(v for a in members(ann) if get_origin(a) is Literal for v in get_args(a))


def valid_keys(loc: tuple[Any, ...]) -> list[str]:
    model = model_in(annotation_at(loc)) if loc else Config
    if model is None:
        return []
    return [k for k in model.model_fields if not (model is Config and k == "root")]


def nearest(value: Any, valid: Sequence[str]) -> str | None:
    """The valid name closest to a mistyped one (`sharegtp` -> `sharegpt`), or None when none is close."""
    if not isinstance(value, str) or not valid:
        return None
    folded = {v.lower(): v for v in valid}
    close = difflib.get_close_matches(value.lower(), list(folded), n=1, cutoff=0.5)
    return folded[close[0]] if close else None
