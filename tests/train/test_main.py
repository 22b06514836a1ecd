"""`python -m tunesmith.train`: what launchers start once per process. It calls the training API, not the CLI;
the 2-process run through torchrun is in test_resume_ddp.py."""

import subprocess
import sys

import pytest

from tunesmith.train.__main__ import main, parse_args


def test_the_flags_become_overrides_in_the_order_tunesmith_train_uses():
    args = parse_args(["t.yaml", "--epochs", "2", "--method", "dora", "--set", "train.lora.r=8", "--no-resume"])
    assert args.config == "t.yaml" and args.resume is False and args.yes is False
    assert args.sets == ["train.method=dora", "train.epochs=2.0", "train.lora.r=8"]
    assert parse_args(["t.yaml", "--resume"]).resume is True
    assert parse_args(["t.yaml"]).resume is None


@pytest.mark.parametrize("option", [["--dry-run"], ["--num-processes", "2"], ["--nope"]])
def test_cli_only_options_are_usage_errors(option, capsys):
    with pytest.raises(SystemExit) as e:
        parse_args(["t.yaml", *option])
    assert e.value.code == 2
    assert option[0] in capsys.readouterr().err


def test_a_user_error_prints_error_and_hint_and_exits_2(tmp_path, capsys):
    (tmp_path / "tunesmith.yaml").write_text("trian:\n  epochs: 1\n")
    assert main([str(tmp_path / "tunesmith.yaml")]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "unknown key 'trian'" in err and "hint:" in err and "Traceback" not in err


def test_the_module_does_not_import_the_cli():
    code = (
        "import sys, tunesmith.train.__main__, tunesmith.pipeline, tunesmith.train.recipe; "
        "print(any(m.startswith('tunesmith.cli') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
