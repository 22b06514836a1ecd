"""The model section: which base model, and how to build it offline when it is missing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunesmith.config.base import NAMED_MODELS, NamedModel, Section


class TinyModelConfig(Section):
    size: Literal["xs", "s", "m"] = Field("s", description="Tiny model preset.")
    seed: int = Field(0, description="Seed of the random initialisation.")


class ModelConfig(Section):
    base: str = Field(
        "models/tiny",
        description="Hub id, local directory, or .gguf file (imported once into .tunesmith/models/) of the base model.",
    )
    revision: str | None = Field(None, description="Hub revision (commit, tag or branch) to pin.")
    tiny: TinyModelConfig | None = Field(
        None,
        description="Build an offline tiny model at `base` when it does not exist yet (demos and tests).",
    )
    get: NamedModel | None = Field(  # type: ignore[valid-type]  # a Literal built from NAMED_MODELS
        None,
        description="Import this named model (shipped in a wheel, no download) at `base` when it is missing: "
        f"{', '.join(NAMED_MODELS)}.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if self.tiny is not None and self.get is not None:
            raise ValueError("set model.tiny or model.get, not both: they both build the model at model.base")
        return self
