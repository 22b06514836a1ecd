"""The root of tunesmith.yaml: the project section, every stage's section, and the rules that span sections."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from tunesmith.config.base import RuleError, Section
from tunesmith.config.data import DataConfig
from tunesmith.config.docs import DocsConfig
from tunesmith.config.eval import EvalConfig
from tunesmith.config.export import ExportConfig
from tunesmith.config.generate import GenerateConfig
from tunesmith.config.model import ModelConfig
from tunesmith.config.monitor import MonitorConfig
from tunesmith.config.serve import ServeConfig
from tunesmith.config.train import TrainConfig
from tunesmith.config.ui import UiConfig


class ProjectConfig(Section):
    name: str = Field("tunesmith-project", description="A name for the project, used in reports.")
    artifacts: str = Field(
        "artifacts", description="Where every stage writes its directory, relative to tunesmith.yaml."
    )
    seed: int = Field(0, description="The seed for splits, training and evaluation.")
    allow_outside_paths: bool = Field(
        False,
        description="Allow data.paths, test_paths and val_paths outside the folder of tunesmith.yaml (a shared "
        "config must not read /etc).",
    )


class Config(Section):
    project: ProjectConfig = Field(default_factory=ProjectConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    docs: DocsConfig = Field(default_factory=DocsConfig)
    generate: GenerateConfig = Field(default_factory=GenerateConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    serve: ServeConfig = Field(default_factory=ServeConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)

    # Where relative paths are resolved from: the folder of tunesmith.yaml (not part of the file).
    root: Path = Field(default_factory=Path.cwd, exclude=True)

    def path(self, p: str | Path) -> Path:
        """Resolve a path from the config against the folder of tunesmith.yaml."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else self.root / p

    def data_section(self) -> DataConfig:
        """The data section with its held-out files (test_paths, val_paths) resolved against tunesmith.yaml's
        folder, as the data stage takes it (data.paths are passed to it resolved, as the files of a command)."""
        return self.data.model_copy(
            update={k: [str(self.path(p)) for p in getattr(self.data, k)] for k in ("test_paths", "val_paths")}
        )

    @property
    def artifacts_dir(self) -> Path:
        return self.path(self.project.artifacts)

    def stage_dir(self, stage: str) -> Path:
        return self.artifacts_dir / stage

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @model_validator(mode="after")
    def _sft_arm_has_its_run(self) -> Config:
        """The sft arm evaluates the local SFT run a DPO run started from: without one, the evaluation would stop
        after training."""
        if "sft" not in self.eval.arms:
            return self
        at = ("eval", "arms", list(self.eval.arms).index("sft"))
        if self.train.objective != "dpo" or self.train.init_from is None:
            raise RuleError(
                "the sft arm is the SFT run a DPO run started from, and this config has none",
                hint="set train.objective: dpo and train.init_from: RUN_DIR, or remove sft from eval.arms",
                at=at,
            )
        if self.train.backend != "local":
            raise RuleError(
                "the sft arm runs a local SFT run; it has no vendor endpoint", hint="remove sft from eval.arms", at=at
            )
        return self

    @model_validator(mode="after")
    def _served_rag_has_documents(self) -> Config:
        """Serving with retrieval retrieves from the document index: without documents it would fail at startup."""
        if self.serve.rag_models and not self.docs.paths:
            raise RuleError(
                "serve.rag_models answers with passages of the document index, and docs.paths names no documents",
                hint="set docs.paths to your documents (tunesmith docs index), or empty serve.rag_models",
                at=("serve", "rag_models"),
            )
        return self
