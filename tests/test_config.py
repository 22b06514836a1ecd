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
