"""Nothing tagged `needs_review` trains unless the user says so (DESIGN.md, "Review").

`monitor export-review` writes the model's own answers tagged `needs_review`, and generated drafts carry the same
tag: they are for a person to review first. `data prepare` refuses them (exit 2, naming each file and line and the
command that reviews them) unless `data.allow_unreviewed` is on, and then the dataset card and the manifest's
warnings say how many were trained on unreviewed and where they came from. A reviewed example (the output of
`tunesmith ui --review`) has the tag removed and `reviewed` added, so it passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.errors import DataError

NEEDS_REVIEW = "needs_review"
MAX_LINES_SHOWN = 20


def tags_of(item: dict[str, Any]) -> list[str]:
    """The tags of a canonical record or pair (`meta.tags`), [] when it has none."""
    meta = item.get("meta")
    tags = meta.get("tags") if isinstance(meta, dict) else None
    return [str(t) for t in tags] if isinstance(tags, list) else []


def unreviewed(items: Sequence[dict[str, Any]]) -> dict[str, list[int]]:
    """The lines of the examples tagged `needs_review`, by file, in file order."""
    found: dict[str, list[int]] = {}
    for item in items:
        if NEEDS_REVIEW not in tags_of(item):
            continue
        source = item.get("meta", {}).get("source") or {}
        found.setdefault(str(source.get("file", "?")), []).append(int(source.get("line", 0)))
    return {f: sorted(lines) for f, lines in found.items()}


def _where(found: dict[str, list[int]]) -> str:
    parts = []
    for file, lines in found.items():
        shown = ", ".join(map(str, lines[:MAX_LINES_SHOWN]))
        more = f" and {len(lines) - MAX_LINES_SHOWN} more" if len(lines) > MAX_LINES_SHOWN else ""
        parts.append(f"{Path(file).name} line{'s' if len(lines) > 1 else ''} {shown}{more}")
    return "; ".join(parts)


def refuse_unreviewed(items: Sequence[dict[str, Any]], allow: bool) -> str | None:
    """Raise a DataError (exit 2) naming the unreviewed examples, unless `allow`; then the warning that the card
    and the manifest carry (None when every example is reviewed)."""
    found = unreviewed(items)
    if not found:
        return None
    n = sum(len(lines) for lines in found.values())
    if not allow:
        first = next(iter(found))
        raise DataError(
            f"{n} example(s) tagged needs_review have not been reviewed by a person: {_where(found)}",
            hint="review them with `tunesmith ui --review` (docs/review.md), then prepare "
            "artifacts/review/reviewed.jsonl with --parent; or leave those files out; or pass --allow-unreviewed "
            "(data.allow_unreviewed: true) to train on them unreviewed, which the dataset card records",
            file=first,
            line=found[first][0],
        )
    return (
        f"{n} example(s) tagged needs_review were trained on without review (data.allow_unreviewed: true): "
        f"{_where(found)}"
    )


def card_section(warning: str | None) -> str:
    """The dataset card's section on unreviewed examples ('' when there were none)."""
    if warning is None:
        return ""
    return f"\n## Unreviewed examples\n\n**Not reviewed by a person.** {warning}.\n"
