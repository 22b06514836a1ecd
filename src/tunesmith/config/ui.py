"""The ui section: where `tunesmith ui` listens, and what its review mode (`tunesmith ui --review`) reads."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Arm, Section


class UiConfig(Section):
    host: str = Field("127.0.0.1", description="`tunesmith ui` bind address; loopback unless you say otherwise.")
    port: int = Field(8080, gt=0, lt=65536, description="`tunesmith ui` port.")
    review_paths: list[str] = Field(
        default_factory=lambda: ["review/*.jsonl"],
        description="Files (globs, relative to tunesmith.yaml) that `monitor export-review` wrote: the review queue "
        "of `tunesmith ui --review` holds their examples tagged needs_review, with those of data.paths.",
    )
    session_hours: float = Field(
        12, gt=0, description="`tunesmith ui --review`: a login lasts this long, then the reviewer logs in again."
    )
    ab_pairs: list[tuple[Arm, Arm]] = Field(
        default_factory=list,
        description="Blind A/B: the pairs of arms people compare, e.g. [[fine_tuned, rag], [fine_tuned, base]]; "
        "unset: the fine-tune against every other arm of the latest evaluation.",
    )
