"""The dataset card's account of generated examples (issue 27): how many a teacher model wrote, which teacher, and
who reviewed them.

Drafts of `tunesmith data generate` carry `meta.teacher` ({model, base_url}) and the tag `generated`; a reviewed one
carries `meta.review.by` (`tunesmith ui --review`). Older generated examples (`data add-refusals --near-domain`,
prepare's refusal top-up) are tagged `generated` without a teacher: templates wrote them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tunesmith.data.unreviewed import NEEDS_REVIEW, tags_of


def _teacher(item: dict[str, Any]) -> str:
    teacher = item.get("meta", {}).get("teacher")
    if isinstance(teacher, dict) and teacher.get("model"):
        return f"`{teacher['model']}` at {teacher.get('base_url', '?')}"
    return "templates (no teacher model)"


def _reviewer(item: dict[str, Any]) -> str | None:
    review = item.get("meta", {}).get("review")
    return str(review["by"]) if isinstance(review, dict) and review.get("by") else None


def generated_section(items: Sequence[dict[str, Any]]) -> str:
    """The card's "Generated examples" section over the examples written (every split); '' when none is generated."""
    generated = [i for i in items if "generated" in tags_of(i)]
    if not generated:
        return ""
    teachers = Counter(_teacher(i) for i in generated)
    reviewers = Counter(r for i in generated if (r := _reviewer(i)))
    unreviewed = sum(1 for i in generated if NEEDS_REVIEW in tags_of(i))
    by_teacher = sum(n for name, n in teachers.items() if not name.startswith("templates"))
    lines = [
        "",
        "## Generated examples",
        "",
        f"{len(generated)} of the {len(items)} example(s) of this dataset are tagged generated; {by_teacher} "
        "example(s) were written by a teacher model (`tunesmith data generate`).",
        "",
        "| written by | examples |",
        "|---|---|",
        *[f"| {name} | {n} |" for name, n in teachers.most_common()],
        "",
        "Reviewed by: "
        + (", ".join(f"{name} ({n})" for name, n in sorted(reviewers.items())) if reviewers else "nobody")
        + f"; {len(generated) - sum(reviewers.values())} generated example(s) have no reviewer recorded"
        + (f", {unreviewed} of them still tagged needs_review." if unreviewed else "."),
    ]
    return "\n".join(lines) + "\n"
