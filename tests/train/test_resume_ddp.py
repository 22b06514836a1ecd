"""Crash and resume, and real 2-process DDP: both in subprocesses, as they happen to users."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tunesmith.config import Config
from tunesmith.train.recipe import train

ROWS = [
    {
        "messages": [
            {"role": "user", "content": f"Where is order LH-{1000 + i}?"},
            {"role": "assistant", "content": f"Order LH-{1000 + i} ships in {i % 5 + 1} business days."},
        ]
    }
    for i in range(32)
]


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_model_dir):
    root = tmp_path_factory.mktemp("project")
    data = root / "artifacts" / "dataset"
    data.mkdir(parents=True)
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:24]))
    (data / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[24:]))
    return root


def cfg_dict(model_dir, **train) -> dict:
    return {
        "model": {"base": str(model_dir)},
        "train": {
            "epochs": 2,
            "batch_size": 4,
            "learning_rate": 3e-3,
            "logging_steps": 1,
            "eval_steps": 2,
            "keep_checkpoints": 5,
            **train,
        },
    }


def env() -> dict:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(sys.path)}


KILLER = textwrap.dedent("""
    import json, os, signal, sys
    from pathlib import Path
    from transformers import TrainerCallback
    from tunesmith.config import Config
    from tunesmith.train.recipe import train

    class KillAfterSave(TrainerCallback):
        def on_save(self, args, state, control, **kw):
            if state.global_step == 6:
                os.kill(os.getpid(), signal.SIGKILL)

    root = Path(sys.argv[1])
    cfg = Config.model_validate({**json.loads(sys.argv[2]), "root": root})
    train(cfg, callbacks=[KillAfterSave()])
""")


def test_resume_after_sigkill_matches_an_uninterrupted_run(project, tiny_model_dir, tmp_path):
    settings = cfg_dict(tiny_model_dir)
    crashed = subprocess.run(
        [sys.executable, "-c", KILLER, str(project), json.dumps(settings)],
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    run_dir = project / "artifacts" / "train"
    assert (run_dir / "checkpoints" / "checkpoint-6").is_dir() and not (run_dir / "manifest.json").exists()

    cfg = Config.model_validate({**settings, "root": project})
    resumed = train(cfg)  # finds the interrupted run and resumes it
    straight = train(cfg, out_dir=tmp_path / "straight", resume=False)

    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["resumed_from"].endswith("checkpoint-6")
    steps = [m["step"] for m in resumed.metrics if "loss" in m]
    assert steps == sorted(set(steps)), "metrics.jsonl has duplicate steps after resume"
    final = [m["loss"] for m in resumed.metrics if "loss" in m][-1]
    assert final == pytest.approx([m["loss"] for m in straight.metrics if "loss" in m][-1], abs=1e-4)
    assert resumed.eval_loss == pytest.approx(straight.eval_loss, abs=1e-4)


def test_two_process_ddp_matches_one_process(project, tiny_model_dir, tmp_path):
    yaml_path = tmp_path / "tunesmith.yaml"
    yaml_path.write_text(
        json.dumps(
            {
                **cfg_dict(tiny_model_dir, batch_size=2, eval_steps=None, epochs=1),
                "project": {"artifacts": str(project / "artifacts")},
            }
        )
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "tunesmith.train",
        str(yaml_path),
        "--no-resume",
    ]
    done = subprocess.run(cmd, env={**env(), "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((project / "artifacts" / "train" / "manifest.json").read_text())
    assert manifest["counts"]["world_size"] == 2
    ddp = [
        json.loads(line)["loss"]
        for line in (project / "artifacts" / "train" / "metrics.jsonl").open()
        if '"loss"' in line
    ]

    # One process with the same global batch (2 processes x 2 = 4) sees the same examples per step.
    cfg = Config.model_validate({**cfg_dict(tiny_model_dir, batch_size=4, eval_steps=None, epochs=1), "root": project})
    single = train(cfg, out_dir=tmp_path / "single", resume=False)
    assert len(ddp) == len([m for m in single.metrics if "loss" in m]) == 6
    assert ddp == pytest.approx([m["loss"] for m in single.metrics if "loss" in m], abs=2e-2)
