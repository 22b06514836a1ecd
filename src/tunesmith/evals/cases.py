"""The test split as what every arm answers: the conversation up to its last text answer, and that answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tunesmith.artifacts import read_jsonl
from tunesmith.errors import DataError
from tunesmith.records import as_conversation


@dataclass
class TestCase:
    id: str
    tags: list[str]
    prompt: list[dict[str, str]]  # the conversation up to the last assistant turn
    reference: str


def load_test_cases(path: Path, limit: int | None = None) -> list[TestCase]:
    """The test split as cases: the conversation up to its last text answer, and that answer as the reference.

    A final assistant turn that only calls a tool has no text to score: the reference is the last answer with text
    before it, and an example with no such answer is left out (the text metrics cannot score a call).
    """
    if not path.exists():
        raise DataError(f"no test split at {path}", hint="run the prepare stage first (tunesmith run --only prepare)")
    cases = []
    for i, row in enumerate(read_jsonl(path), 1):
        msgs = as_conversation(row)["messages"]  # a preference pair: its chosen answer is the reference
        answers = [k for k, m in enumerate(msgs) if m["role"] == "assistant" and (m.get("content") or "").strip()]
        if not answers:
            continue
        last = answers[-1]
        meta = row.get("meta", {})
        cases.append(
            TestCase(
                str(meta.get("id", f"test-{i}")),
                [str(tag) for tag in meta.get("tags", [])],  # labels: results.json types them as strings
                [{k: v for k, v in m.items() if k != "weight"} for m in msgs[:last]],
                msgs[last]["content"],
            )
        )
    if not cases and path.stat().st_size:
        raise DataError(
            f"no test example in {path} ends with a text answer",
            file=path,
            hint="the evaluation scores text answers; a test set of tool calls only cannot be scored yet",
        )
    return cases[:limit] if limit else cases
