"""What `tunesmith serve` would run, without loading a model: the vLLM path and its refusal without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunesmith.errors import ConfigError
from tunesmith.serve.server import ServePlan, run_vllm, vllm_command


def test_vllm_command_serves_adapters_by_name():
    plan = ServePlan(base="/models/qwen", adapters={"3f2a9c0d1e4b": Path("/runs/a/adapter")})
    cmd = vllm_command(plan, "127.0.0.1", 8000, "k")
    assert cmd[:3] == ["vllm", "serve", "/models/qwen"]
    assert "--enable-lora" in cmd and "3f2a9c0d1e4b=/runs/a/adapter" in cmd
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1" and cmd[cmd.index("--api-key") + 1] == "k"


def test_vllm_without_cuda_is_a_clear_error():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match="needs a CUDA GPU"):
        run_vllm(ServePlan(base="x"), "127.0.0.1", 8000, None)
