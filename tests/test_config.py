from pathlib import Path

import pytest

from tunesmith.config import Config, load_config
from tunesmith.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tunesmith.yaml"
    p.write_text(text)
    return p


def test_misspelled_section_names_key_line_and_suggestion(tmp_path):
    p = write(tmp_path, "project:\n  name: x\ntrian:\n  epochs: 2\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "unknown key 'trian'" in e.value.message
    assert e.value.line == 3
    assert "did you mean 'train'?" in e.value.hint


def test_misspelled_nested_key(tmp_path):
    p = write(tmp_path, "train:\n  method: lora\n  lerning_rate: 0.001\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "'lerning_rate'" in e.value.message and "section 'train'" in e.value.message
    assert e.value.line == 3
    assert "did you mean 'learning_rate'?" in e.value.hint


def test_bad_value_points_at_line(tmp_path):
    p = write(tmp_path, "train:\n  method: lora\n  batch_size: -3\n")
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert "train.batch_size" in e.value.message and e.value.line == 3


def test_overrides_and_relative_paths(tmp_path):
    p = write(tmp_path, "data:\n  paths: [data/a.jsonl]\n")
    cfg = load_config(p, ["train.epochs=2", "train.lora.r=4", "eval.arms=[base, fine_tuned]"])
    assert cfg.train.epochs == 2 and cfg.train.lora.r == 4 and cfg.eval.arms == ["base", "fine_tuned"]
    assert cfg.path(cfg.data.paths[0]) == tmp_path / "data" / "a.jsonl"
    assert cfg.stage_dir("train") == tmp_path / "artifacts" / "train"


def test_split_must_sum_to_one(tmp_path):
    with pytest.raises(ConfigError, match="add up to 1"):
        load_config(write(tmp_path, "data:\n  split: {train: 0.5, val: 0.1, test: 0.1}\n"))


def test_python_api_is_the_same_classes():
    cfg = Config(train={"method": "dora", "epochs": 1})
    assert cfg.train.method == "dora" and cfg.eval.reference_arm == "base"


def test_example_configs_are_valid():
    example = Path(__file__).parents[1] / "examples" / "support-desk"
    real = load_config(example / "tunesmith.yaml")
    assert real.data.paths and real.model.get == "smollm2-135m-instruct" and real.model.tiny is None
    tiny = load_config(example / "tunesmith-tiny.yaml")
    assert tiny.model.tiny is not None and tiny.model.get is None


def test_model_tiny_and_get_are_exclusive(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        load_config(write(tmp_path, "model:\n  tiny: {size: xs}\n  get: smollm2-135m-instruct\n"))


def config_keys(model=Config, prefix=""):
    from pydantic import BaseModel

    for name, field in model.model_fields.items():
        if name == "root":
            continue
        key = f"{prefix}{name}"
        ann = field.annotation
        sub = next(
            (c for c in [ann, *getattr(ann, "__args__", ())] if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if sub is None:
            yield key
        elif sub is not None:
            yield from config_keys(sub, key + ".")


def test_readme_documents_every_config_key():
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [k for k in config_keys() if f"`{k}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_format_typo_exits_2_with_the_line_and_the_nearest_name(tmp_path, capsys):
    from tunesmith.cli.main import main

    p = write(tmp_path, "project:\n  name: x\ndata:\n  paths: [a.jsonl]\n  format: sharegtp\n")
    assert main(["run", str(p), "--only", "check"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"{p}:5:" in err and "'data.format'" in err and "'sharegtp'" in err
    assert "did you mean 'sharegpt'?" in err


@pytest.mark.parametrize(
    ("yaml_text", "line", "nearest"),
    [
        ("train:\n  method: LoRA\n", 2, "lora"),
        ("data:\n  pii: redcat\n", 2, "redact"),
        ("data:\n  dedup: nera\n", 2, "near"),
        ("train:\n  report_to: [tensorbord]\n", 2, "tensorboard"),
        ("eval:\n  reference_arm: bsae\n", 2, "base"),
        ("eval:\n  arms:\n    - base\n    - fine_tunde\n", 4, "fine_tuned"),
        ("eval:\n  judge: {base_url: u, model: m, arm: fine_tunde}\n", 2, "fine_tuned"),
        ("eval:\n  prices:\n    fine_tunde: {per_hour: 1}\n", 3, "fine_tuned"),
        ("model:\n  get: smollm2\n", 2, "smollm2-135m-instruct"),
        ("train:\n  dpo:\n    loss_type: ipoo\n", 3, "ipo"),
    ],
)
def test_every_closed_set_of_names_fails_at_load_with_the_nearest(tmp_path, yaml_text, line, nearest):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, yaml_text))
    assert e.value.line == line and f"did you mean '{nearest}'?" in e.value.hint
    assert e.value.exit_code == 2


def test_a_name_with_nothing_close_lists_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "data:\n  format: xml\n"))
    assert "did you mean" not in e.value.hint
    assert "messages, prompt_completion, alpaca, sharegpt" in e.value.hint


def test_the_closed_sets_are_the_ones_the_code_knows():
    """Each closed set is declared once; where another module keeps the same names, they must agree."""
    from typing import get_args

    from tunesmith.config import ARMS, DataConfig, ModelConfig, TinyModelConfig, literal_choices
    from tunesmith.evals.arms import ARM_DESCRIPTIONS
    from tunesmith.models import tiny
    from tunesmith.models.named import NAMED_MODELS
    from tunesmith.records import FORMATS

    assert literal_choices(DataConfig.model_fields["format"].annotation) == FORMATS
    assert set(ARMS) == set(ARM_DESCRIPTIONS)
    assert literal_choices(ModelConfig.model_fields["get"].annotation) == tuple(NAMED_MODELS)
    assert literal_choices(TinyModelConfig.model_fields["size"].annotation) == get_args(tiny.Size)
