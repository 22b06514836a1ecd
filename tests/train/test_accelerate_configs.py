"""The accelerate presets under configs/accelerate/ parse with accelerate's own loader and launcher checks.

No process is launched: each preset goes through what `accelerate launch --config_file F` does before it spawns
(load the file, merge it into the launch arguments, build the environment of the workers), and the plugins the
workers would build from that environment get the settings the preset documents.
"""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import pytest

PRESETS = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
EXPECTED = {
    "ddp.yaml": "MULTI_GPU",
    "fsdp2.yaml": "FSDP",
    "deepspeed-zero2.yaml": "DEEPSPEED",
    "deepspeed-zero3.yaml": "DEEPSPEED",
}


def test_every_preset_is_tested():
    assert sorted(p.name for p in PRESETS.glob("*.yaml")) == sorted(EXPECTED)


def _launch_env(path: Path) -> tuple[object, dict[str, str]]:
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser
    from accelerate.utils.launch import prepare_deepspeed_cmd_env, prepare_multi_gpu_env

    argv = ["--config_file", str(path), "--num_processes", "2", "-m", "tunesmith.train", "tunesmith.yaml"]
    args = launch_command_parser().parse_args(argv)
    args, defaults, _ = _validate_launch_command(args)
    assert args.num_processes == 2 and args.module and args.training_script == "tunesmith.train"
    if args.use_deepspeed:
        args.deepspeed_fields_from_accelerate_config = list(defaults.deepspeed_config.keys())
        return args, prepare_deepspeed_cmd_env(args)[1]
    return args, prepare_multi_gpu_env(args)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_loads_with_accelerate(name):
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    cfg = load_config_from_file(str(PRESETS / name))  # raises on any unknown top-level key
    assert isinstance(cfg, ClusterConfig)
    assert cfg.distributed_type.value == EXPECTED[name]
    assert cfg.num_processes == -1  # the user says how many with --num_processes
    assert cfg.mixed_precision == "no"  # the recipe decides bf16 from the hardware
    args, env = _launch_env(PRESETS / name)
    assert env["ACCELERATE_MIXED_PRECISION"] == "no"


def test_fsdp2_preset_builds_an_fsdp2_plugin():
    from accelerate.utils import FullyShardedDataParallelPlugin

    _, env = _launch_env(PRESETS / "fsdp2.yaml")
    assert env["ACCELERATE_USE_FSDP"] == "true" and env["FSDP_VERSION"] == "2"
    with mock.patch.dict(os.environ, env, clear=True):
        plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.state_dict_type.name == "FULL_STATE_DICT"  # checkpoints that export and eval load directly
    assert plugin.reshard_after_forward is True and plugin.cpu_ram_efficient_loading is True


@pytest.mark.parametrize("name, stage", [("deepspeed-zero2.yaml", 2), ("deepspeed-zero3.yaml", 3)])
def test_deepspeed_presets_leave_accumulation_to_the_trainer(name, stage):
    from accelerate.utils import DeepSpeedPlugin

    _, env = _launch_env(PRESETS / name)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
    with mock.patch.dict(os.environ, env, clear=True):
        plugin = DeepSpeedPlugin()
    ds = plugin.deepspeed_config
    assert ds["zero_optimization"]["stage"] == stage
    # "auto": filled from train.grad_accum and the trainer's clipping, never a mismatch error
    assert ds["gradient_accumulation_steps"] == "auto" and ds["gradient_clipping"] == "auto"
    if stage == 3:
        assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
        assert plugin.zero3_init_flag is True
