"""What every section shares: strictness, the closed set of arm names, and the error a cross-field rule raises."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict

from tunesmith.models.named import NAMED_MODELS

# Closed sets of names, each declared once. A YAML typo in one (`format: sharegtp`) fails at load with its line and
# the nearest valid name, instead of later without one.
Arm = Literal["base", "prompted", "retrieval", "rag", "fine_tuned", "fine_tuned_rag", "sft", "endpoint"]
ARMS: tuple[str, ...] = get_args(Arm)
NamedModel = Literal[tuple(NAMED_MODELS)]  # type: ignore[valid-type]  # the models models/named.py can import


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class RuleError(ValueError):
    """A rule between fields is broken. Raised inside a model validator, so pydantic reports it at the section;
    `at` names the key under that section whose line the loader reports, since the section's own line is rarely
    where the mistake is."""

    def __init__(self, message: str, *, hint: str | None = None, at: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.message, self.hint, self.at = message, hint, at


def default_of(section: type[BaseModel], key: str) -> Any:
    """The default of a section's key, read from its field: for an API that takes one value of another section
    (the data stage takes train.max_seq_len), so that the default is still declared once."""
    return section.model_fields[key].get_default(call_default_factory=True)
