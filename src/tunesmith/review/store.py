"""Review decisions as records (who, when, before, after) under artifacts/review/, written through the artifact
layer; the user's files are never touched.

- `decisions.jsonl`: the audit log, one decision a line, in order; never rewritten but to append.
- `reviewed.jsonl`: every approved or edited example, `needs_review` replaced by `reviewed` and `meta.review`
  saying who decided what and when: the input of the next dataset version
  (`tunesmith data prepare artifacts/review/reviewed.jsonl --parent artifacts/dataset --out ...`). A rejected
  example is in the audit log only.
- `manifest.json`: marks the folder as tunesmith's, with the counts.

Each write replaces a whole file through a temporary sibling and a rename (`artifacts.write_text_atomic`), under a
lock, so a reader never sees half a decision.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from tunesmith.artifacts import dumps, read_jsonl, write_json_atomic, write_text_atomic
from tunesmith.errors import TunesmithError
from tunesmith.records import to_record
from tunesmith.review.queue import NEEDS_REVIEW, Item

DECISIONS = "decisions.jsonl"
REVIEWED = "reviewed.jsonl"
Decision = Literal["approve", "edit", "reject"]
DECISION_NAMES: tuple[str, ...] = get_args(Decision)


class ReviewError(TunesmithError):
    """A decision that cannot be recorded as asked (an edit without content, an invalid conversation)."""


def _edited(item: Item, content: Any) -> dict[str, Any]:
    """The item's record with `content`: a string replaces the last assistant answer (a pair's chosen one); a list
    of messages replaces the conversation, checked as any input file is."""
    record = copy.deepcopy(item.record)
    if isinstance(content, str):
        if not content.strip():
            raise ReviewError("an edit needs the new answer as `content`")
        turns = record["chosen"] if item.record_kind == "preference" else record["messages"]
        last = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=None)
        if last is None:
            raise ReviewError("this example has no assistant answer to edit; send the messages as a list")
        turns[last] = {**turns[last], "content": content}
        return record
    if isinstance(content, list) and item.record_kind == "conversation":
        checked, findings = to_record({"messages": content}, "messages", file="edit", line=1)
        if checked is None:
            raise ReviewError(f"the edited conversation is invalid: {findings[0].message}")
        record["messages"] = checked["messages"]
        return record
    raise ReviewError("`content` is the new answer (a string) or, for a conversation, its messages (a list)")


def reviewed_record(record: dict[str, Any], review: dict[str, Any]) -> dict[str, Any]:
    """`record` as it trains: `needs_review` replaced by `reviewed`, and who decided what in `meta.review`."""
    meta = dict(record.get("meta", {}))
    tags = [t for t in meta.get("tags", []) if t != NEEDS_REVIEW]
    meta["tags"] = [*tags, *(["reviewed"] if "reviewed" not in tags else [])]
    meta["review"] = review
    return {**record, "meta": meta}


class ReviewStore:
    """The decisions of one project, in `directory` (artifacts/review)."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self._lock = threading.Lock()

    @property
    def decisions_path(self) -> Path:
        return self.dir / DECISIONS

    @property
    def reviewed_path(self) -> Path:
        return self.dir / REVIEWED

    def decisions(self) -> list[dict[str, Any]]:
        """The audit log, oldest first."""
        return read_jsonl(self.decisions_path) if self.decisions_path.is_file() else []

    def decided(self) -> set[str]:
        return {d["item_id"] for d in self.decisions()}

    def decide(
        self, item: Item, decision: str, *, user: str, role: str, content: Any = None, note: str | None = None
    ) -> dict[str, Any]:
        """Record `user`'s decision on `item`; the audit entry. An item is decided once: a second decision on it is
        refused (`ReviewError`), so the log never holds two verdicts on one example."""
        if decision not in DECISION_NAMES:
            raise ReviewError(f"decision must be one of {', '.join(DECISION_NAMES)}, not {decision!r}")
        if decision == "edit":
            after: dict[str, Any] | None = _edited(item, content)
        else:
            after = None if decision == "reject" else copy.deepcopy(item.record)
        at = datetime.now(UTC).isoformat()
        source = {"file": item.file, "line": item.line}
        entry: dict[str, Any] = {
            "item_id": item.id,
            "decision": decision,
            "by": user,
            "role": role,
            "at": at,
            "note": note or "",
            "kind": item.kind,
            "source": source,
            "before": item.record,
            "after": None,
        }
        if after is not None:
            review = {"item_id": item.id, "decision": decision, "by": user, "at": at, "note": note or ""}
            entry["after"] = reviewed_record(after, {**review, "source": source})
        with self._lock:
            log = self.decisions()
            if any(d["item_id"] == item.id for d in log):
                raise ReviewError(f"item {item.id} has been decided already; see the audit log")
            log.append(entry)
            self._write(log)
        return entry

    def _write(self, log: list[dict[str, Any]]) -> None:
        """The audit log, then the reviewed examples it implies, then the manifest that counts them."""
        reviewed = [d["after"] for d in log if d["after"] is not None]
        write_text_atomic(self.decisions_path, "".join(dumps(d) + "\n" for d in log))
        write_text_atomic(self.reviewed_path, "".join(dumps(r) + "\n" for r in reviewed))
        counts = Counter(d["decision"] for d in log)
        write_json_atomic(
            self.dir / "manifest.json",
            {
                "stage": "review",
                "updated_at": datetime.now(UTC).isoformat(),
                "counts": {name: counts.get(name, 0) for name in DECISION_NAMES} | {"reviewed": len(reviewed)},
                "outputs": [DECISIONS, REVIEWED],
            },
        )
