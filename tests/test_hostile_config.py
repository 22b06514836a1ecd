"""tunesmith.yaml from a hostile or careless hand: bounded work, a clear error with its line, exit 2."""

from pathlib import Path

import pytest

from tunesmith.cli.main import main
from tunesmith.config import MAX_ALIASES, load_config
from tunesmith.errors import ConfigError


def write(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "tunesmith.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return p


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    lines.append(f"project: {{name: *a{levels - 1}}}")
    return "\n".join(lines) + "\n"


def test_billion_laughs_yaml_exits_2_fast(tmp_path):
    # 9 levels of 9 aliases would expand to 9**8 (43 million) values; the loader counts, it never expands.
    path = write(tmp_path, billion_laughs())
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(path)
    assert main(["run", str(path), "--only", "check"]) == 2


def test_too_many_aliases_refused(tmp_path):
    refs = ", ".join(["*x"] * (MAX_ALIASES + 1))
    with pytest.raises(ConfigError, match="aliases"):
        load_config(write(tmp_path, f"x: &x 1\ndata: {{paths: [{refs}]}}\n"))


def test_duplicate_yaml_key_names_line(tmp_path):
    with pytest.raises(ConfigError, match="duplicate key 'name'") as e:
        load_config(write(tmp_path, "project:\n  name: a\n  name: b\n"))
    assert e.value.line == 3


def test_latin1_yaml_clear_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "project:\n  name: caf\xe9\n".encode("latin-1")))
    assert e.value.file and e.value.line == 2


def test_data_path_outside_project_refused(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / "secret.jsonl").write_text("{}\n")
    with pytest.raises(ConfigError, match="outside"):
        load_config(write(project, "data:\n  paths: [../secret.jsonl]\n"))
    cfg = load_config(write(project, "project: {allow_outside_paths: true}\ndata:\n  paths: [../secret.jsonl]\n"))
    assert cfg.data.paths == ["../secret.jsonl"]


def test_error_quotes_only_an_excerpt_of_a_long_value(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, "train:\n  epochs: " + "x" * 5000 + "\n"))
    assert len(str(e.value)) < 600
