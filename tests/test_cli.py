import re

import pytest

from tunesmith.cli.main import main

GROUPS = ["quickstart", "run", "model", "data", "train", "eval", "export", "serve", "monitor", "runs"]


def test_help_lists_every_command_group(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for group in GROUPS:
        assert re.search(rf"\b{group}\b", out), group


@pytest.mark.parametrize(
    "argv",
    [
        ["quickstart"],
        ["run"],
        ["model", "tiny"],
        ["train"],
        ["export"],
        ["eval"],
        ["eval", "run"],
        ["eval", "compare"],
        ["eval", "export-lm-eval"],
        ["data", "check"],
        ["data", "prepare"],
        ["data", "diff"],
        ["data", "export"],
        ["data", "inspect"],
        ["data", "add-refusals"],
        ["data", "add-negatives"],
        ["serve"],
        ["serve", "promote"],
        ["monitor"],
        ["monitor", "export-review"],
        ["runs", "list"],
        ["runs", "show"],
        ["runs", "compare"],
    ],
)
def test_every_command_has_help_with_examples(argv, capsys):
    assert main([*argv, "--help"]) == 0
    assert "Examples" in capsys.readouterr().out


def test_user_error_is_one_line_with_hint_and_exit_2(tmp_path, capsys):
    (tmp_path / "tunesmith.yaml").write_text("trian:\n  epochs: 1\n")
    code = main(["run", str(tmp_path / "tunesmith.yaml"), "--only", "train"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"error: {tmp_path / 'tunesmith.yaml'}:1: unknown key 'trian'" in err.replace("\n", "")
    assert "hint: did you mean 'train'?" in err
    assert "Traceback" not in err


def test_missing_config_and_bad_stage(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    (tmp_path / "tunesmith.yaml").write_text("project: {name: x}\n")
    assert main(["run", str(tmp_path / "tunesmith.yaml"), "--only", "trian"]) == 2
    assert "unknown stage 'trian'" in capsys.readouterr().err


def test_unknown_option_is_usage_error(capsys):
    assert main(["run", "--nope"]) == 2
