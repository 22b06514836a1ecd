"""Blind A/B judgments: which of two arms' answers to one test question a person prefers (docs/review.md,
"Blind A/B").

The items themselves (which answers, which pairs of arms) come from an evaluation's results (evals/ab.py); this
module keeps what people decided about them, in artifacts/review/ab.jsonl, one line a judgment:
`{item_id, example_id, arms, shown: {A, B}, choice, winner, by, role, at, note, question, reference, answers,
prompt}`.
A judgment holds the texts it was about, so it stays readable (and exportable as a preference pair) after the next
evaluation replaced results.json. One judgment per reviewer per item; the file is rewritten whole through a
temporary sibling and a rename, under a lock, as the review decisions are, so a reader never sees half a line.

Which answer is shown as A is decided here, from a hash of the reviewer and the item: random across items and
reviewers, the same on every reload, and recomputed on the server when the judgment arrives, so the browser never
needs to know which arm is which.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from tunesmith.artifacts import dumps, read_jsonl, write_text_atomic
from tunesmith.review.store import ReviewError

AB_JUDGMENTS = "ab.jsonl"
Choice = Literal["A", "B", "tie"]
CHOICES: tuple[str, ...] = get_args(Choice)


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).digest()


def shown_order(reviewer: str, item_id: str, arms: tuple[str, str]) -> tuple[str, str]:
    """The arms as (A, B) for this reviewer and item: seeded by both, so a reload shows the same order."""
    first, second = arms
    return (second, first) if _digest("ab-order", reviewer, item_id)[0] & 1 else (first, second)


def queue_rank(reviewer: str, item_id: str) -> bytes:
    """Where an item comes in this reviewer's queue: shuffled per reviewer, so the pairs come interleaved and two
    reviewers start on different questions."""
    return _digest("ab-queue", reviewer, item_id)


class AbStore:
    """The A/B judgments of one project, in `directory` (artifacts/review)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.dir / AB_JUDGMENTS

    def judgments(self) -> list[dict[str, Any]]:
        """Every judgment, oldest first."""
        return read_jsonl(self.path) if self.path.is_file() else []

    def judged_by(self, user: str) -> set[str]:
        return {j["item_id"] for j in self.judgments() if j["by"] == user}

    def record(
        self,
        item: dict[str, Any],
        choice: str,
        *,
        user: str,
        role: str,
        note: str | None = None,
    ) -> dict[str, Any]:
        """Record `user`'s choice on `item` ({id, example_id, arms, question, reference, answers: {arm: text}});
        the stored judgment. A second judgment of one item by one reviewer is refused (`ReviewError`)."""
        if choice not in CHOICES:
            raise ReviewError(f"choice must be one of {', '.join(CHOICES)}, not {choice!r}")
        arms = (str(item["arms"][0]), str(item["arms"][1]))
        a, b = shown_order(user, item["id"], arms)
        entry: dict[str, Any] = {
            "item_id": item["id"],
            "example_id": item["example_id"],
            "arms": list(arms),
            "shown": {"A": a, "B": b},
            "choice": choice,
            "winner": {"A": a, "B": b}.get(choice, "tie"),
            "by": user,
            "role": role,
            "at": datetime.now(UTC).isoformat(),
            "note": note or "",
            "question": item["question"],
            "reference": item["reference"],
            "answers": {arm: item["answers"][arm] for arm in arms},
            "prompt": item.get("prompt"),
        }
        with self._lock:
            log = self.judgments()
            if any(j["item_id"] == entry["item_id"] and j["by"] == user for j in log):
                raise ReviewError(f"{user} has judged item {entry['item_id']} already")
            log.append(entry)
            write_text_atomic(self.path, "".join(dumps(j) + "\n" for j in log))
        return entry
