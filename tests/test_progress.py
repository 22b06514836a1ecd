"""Progress wherever the output goes: bars in a terminal, paced lines in a file (tunesmith.progress).

The pace is tested with a clock the test moves, never by waiting."""

from __future__ import annotations

import json
import re
from io import StringIO
from types import SimpleNamespace

import pytest
from rich.console import Console

from tunesmith import progress as P
from tunesmith.train.progress import RichProgress


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def log_console() -> tuple[Console, StringIO]:
    out = StringIO()
    return Console(file=out, width=80, force_terminal=False), out


def counts(text: str, stage: str) -> list[int]:
    return [int(m) for m in re.findall(rf"^{stage}: (\d+)/\d+", text, re.M)]


def test_a_terminal_gets_bars_and_a_file_gets_lines() -> None:
    assert isinstance(P.progress(Console(file=StringIO(), force_terminal=True)), P.Bars)
    assert isinstance(P.progress(Console(file=StringIO(), force_terminal=False)), P.Lines)


def test_lines_come_every_tenth_of_the_work_with_rate_and_eta() -> None:
    console, out = log_console()
    clock = FakeClock()
    with P.progress(console, clock=clock) as bars:
        task = bars.add("train", 40, unit="steps", fields=("loss", "lr"))
        for step in range(1, 41):
            clock.now += 2.0  # a step takes 2 s
            bars.update(task, done=step, fields={"loss": f"{3 - step / 20:.4f}"})
    text = out.getvalue()
    assert counts(text, "train") == list(range(0, 41, 4))  # the start, then every 10% (PACE_FRACTION)
    assert "train: 0/40 steps (0%)\n" in text  # no rate before a step has ended, no empty field
    mid = next(line for line in text.splitlines() if line.startswith("train: 20/40"))
    assert mid == "train: 20/40 steps (50%), 0.50 steps/s, ETA 0:00:40, loss 2.0000"
    assert text.splitlines()[-1].startswith("train: 40/40 steps (100%), 0.50 steps/s, loss 1.0000")


def test_a_slow_task_still_prints_every_pace_seconds() -> None:
    console, out = log_console()
    clock = FakeClock()
    bars = P.Lines(console, clock)
    task = bars.add("eval base", 1000, unit="answers")
    for _ in range(5):
        clock.now += P.PACE_SECONDS / 2 + 0.1  # two updates per interval, far below 10% each
        bars.update(task, advance=1)
    assert counts(out.getvalue(), "eval base") == [0, 2, 4]


def test_a_fields_only_update_prints_nothing_and_stop_prints_where_it_ended() -> None:
    console, out = log_console()
    clock = FakeClock()
    bars = P.Lines(console, clock)
    task = bars.add("train", 100, unit="steps")
    bars.update(task, done=3)
    bars.update(task, fields={"loss": "1.5"})
    assert counts(out.getvalue(), "train") == [0]
    bars.stop()  # early stopping at step 3
    assert out.getvalue().splitlines()[-1].startswith("train: 3/100 steps (3%)")
    assert "loss 1.5" in out.getvalue()


def test_bars_in_a_terminal_show_the_fields() -> None:
    out = StringIO()
    console = Console(file=out, width=100, force_terminal=True)
    with P.progress(console) as bars:
        task = bars.add("train", 10, fields=("loss",))
        bars.update(task, done=5, fields={"loss": "0.1234"})
    assert "5/10" in out.getvalue() and "loss 0.1234" in out.getvalue()


def test_status_prints_one_line_in_a_file() -> None:
    console, out = log_console()
    with P.status(console, "checking the data [PII]..."):
        pass
    assert out.getvalue() == "checking the data [PII]...\n"


@pytest.mark.parametrize("enabled", [True, False])
def test_the_training_callback_writes_lines_with_the_loss(tmp_path, monkeypatch, enabled: bool) -> None:
    """The SFT and DPO runs' callback: paced lines in a log, every log record in metrics.jsonl."""
    monkeypatch.setattr(P, "PACE_SECONDS", float("inf"))  # the real clock runs here: pace by the count alone
    console, out = log_console()
    metrics = tmp_path / "metrics.jsonl"
    callback = RichProgress(console, metrics, tokens_per_epoch=1000.0, enabled=enabled)
    state = SimpleNamespace(max_steps=20, global_step=0, epoch=0.0)
    callback.on_train_begin(None, state, None)
    for step in range(1, 21):
        state.global_step, state.epoch = step, step / 20
        callback.on_step_end(None, state, None)
        if step % 5 == 0:
            callback.on_log(None, state, None, logs={"loss": 2.0 / step, "learning_rate": 1e-3})
    callback.on_train_end(None, state, None)
    if not enabled:  # another process of a multi-GPU run: it says and writes nothing
        assert out.getvalue() == "" and not metrics.exists()
        return
    text = out.getvalue()
    assert counts(text, "train") == list(range(0, 21, 2))
    assert re.search(r"^train: 6/20 steps \(30%\).*, loss 0\.4000, lr 1\.00e-03, tok/s \d", text, re.M)
    assert [json.loads(line)["step"] for line in metrics.read_text().splitlines()] == [5, 10, 15, 20]
