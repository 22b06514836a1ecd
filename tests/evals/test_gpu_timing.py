"""Time to first token on a GPU: the clock waits for the prefill's kernels, which run after Python has moved on."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from tunesmith.evals.generation import first_call


def test_the_first_token_clock_waits_for_the_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[object] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(device))
    hook = first_call()
    scores = SimpleNamespace(is_cuda=True, device="cuda:0")  # what generate() hands over on a GPU
    assert hook(None, scores) is scores
    hook(None, scores)  # later tokens: the first one is already timed
    assert waited == ["cuda:0"] and hook.at is not None


def test_on_the_cpu_nothing_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    waited: list[object] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: waited.append(device))
    hook = first_call()
    scores = torch.zeros(1, 4)
    assert hook(None, scores) is scores
    assert waited == [] and hook.at is not None
