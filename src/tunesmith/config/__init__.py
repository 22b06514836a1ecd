"""tunesmith.yaml: one pydantic model per stage.

The same classes are the Python API (`Config(train=TrainConfig(epochs=2))`), the YAML file and, through
`--set section.key=value` and the commands' own flags, the CLI. The package keeps `tunesmith.config` the one import
for all of it: the sections (a module each), the loader and the reference table generator.
"""

from tunesmith.config.base import ARMS, Arm, NamedModel, RuleError, Section, default_of
from tunesmith.config.data import DataConfig, SplitConfig
from tunesmith.config.docs import DocsConfig
from tunesmith.config.eval import EndpointConfig, EvalConfig, JudgeConfig, PriceConfig
from tunesmith.config.fields import literal_choices, nearest
from tunesmith.config.fields import model_in as _model_in
from tunesmith.config.gates import Gate, MetricRef, parse_gate
from tunesmith.config.generate import GenerateConfig, TeacherConfig
from tunesmith.config.loader import (
    EXCERPT_CHARS,
    MAX_ALIASES,
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_NODES,
    MOVED_KEYS,
    BoundedLoader,
    apply_override,
    load_config,
    parse_yaml,
)
from tunesmith.config.model import ModelConfig, TinyModelConfig
from tunesmith.config.monitor import MonitorConfig
from tunesmith.config.project import Config, ProjectConfig
from tunesmith.config.reference import TABLE_COMMAND, TABLE_END, TABLE_START, _with_table, main, markdown_table
from tunesmith.config.safety import SafetyConfig
from tunesmith.config.serve import ServeConfig
from tunesmith.config.train import DpoConfig, LoraConfig, TrainConfig, VendorConfig
from tunesmith.config.ui import UiConfig

__all__ = [
    "ARMS",
    "EXCERPT_CHARS",
    "MAX_ALIASES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "MOVED_KEYS",
    "TABLE_COMMAND",
    "TABLE_END",
    "TABLE_START",
    "Arm",
    "BoundedLoader",
    "Config",
    "DataConfig",
    "DocsConfig",
    "DpoConfig",
    "EndpointConfig",
    "EvalConfig",
    "Gate",
    "GenerateConfig",
    "JudgeConfig",
    "LoraConfig",
    "MetricRef",
    "ModelConfig",
    "MonitorConfig",
    "NamedModel",
    "PriceConfig",
    "ProjectConfig",
    "RuleError",
    "SafetyConfig",
    "Section",
    "ServeConfig",
    "SplitConfig",
    "TeacherConfig",
    "TinyModelConfig",
    "TrainConfig",
    "UiConfig",
    "VendorConfig",
    "_model_in",
    "_with_table",
    "apply_override",
    "default_of",
    "literal_choices",
    "load_config",
    "main",
    "markdown_table",
    "nearest",
    "parse_gate",
    "parse_yaml",
]
