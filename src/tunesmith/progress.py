"""Progress that shows wherever the output goes: rich bars in a terminal, plain paced lines in a file or a CI log.

Rich draws nothing while output goes to a file, so an eight-minute training used to be silent until it ended. Every
long stage (training, each evaluation arm's generation, data check and prepare) reports through this module, which
picks by `console.is_terminal`:

- a terminal: the bars, redrawn at each update (not by rich's 10 Hz thread: on a CPU that thread preempts the
  training and generation threads);
- anything else: a line when a task starts, then one each time it has moved `PACE_FRACTION` of its total or
  `PACE_SECONDS` have passed since the last line, whichever comes first, and its last state when it ends:
  ``train: 24/80 steps (30%), 1.52 steps/s, ETA 0:00:37, loss 2.3412, lr 5.00e-03``.

The clock is a parameter, so the pace is tested without waiting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichBars

PACE_FRACTION = 0.10  # a line at least every 10% of a task...
PACE_SECONDS = 30.0  # ...or every 30 seconds, whichever comes first

Clock = Callable[[], float]


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


@dataclass
class _Task:
    """One task's state, for the lines."""

    stage: str
    total: int
    unit: str
    done: int
    started_done: int
    started_at: float
    printed_done: int = -1
    printed_at: float = 0.0
    fields: dict[str, str] = field(default_factory=dict)

    def line(self, now: float) -> str:
        total = max(self.total, 0)
        share = f" ({self.done / total:.0%})" if total else ""
        parts = [f"{self.stage}: {self.done}/{total}{' ' + self.unit if self.unit else ''}{share}"]
        moved, elapsed = self.done - self.started_done, now - self.started_at
        if moved > 0 and elapsed > 0:
            rate = moved / elapsed
            parts.append(f"{rate:,.2f} {self.unit or 'items'}/s")
            if self.done < total:
                parts.append(f"ETA {_duration((total - self.done) / rate)}")
        parts += [f"{name} {value}" for name, value in self.fields.items() if value]
        return ", ".join(parts)


class Progress:
    """Tasks with a total and a count done, and free-form fields (loss, lr, tok/s) shown beside them.

    Use `progress(console)` to get the right kind; as a context manager it starts and stops the display.
    """

    def add(self, stage: str, total: int, *, done: int = 0, unit: str = "", fields: tuple[str, ...] = ()) -> int:
        """A new task; `fields` names the fields it will show, in their order."""
        raise NotImplementedError

    def update(
        self, task: int, *, done: int | None = None, advance: int = 0, fields: Mapping[str, str] | None = None
    ) -> None:
        """Set `done` or `advance` it, and/or change the fields shown beside the count."""
        raise NotImplementedError

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


class Bars(Progress):
    """The terminal: one rich bar per task."""

    def __init__(self, console: Console):
        self._bars = RichBars(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[info]}"),
            TimeRemainingColumn(),
            console=console,
            auto_refresh=False,
        )
        self._fields: dict[int, dict[str, str]] = {}

    def add(self, stage: str, total: int, *, done: int = 0, unit: str = "", fields: tuple[str, ...] = ()) -> int:
        task = int(self._bars.add_task(stage, total=total, completed=done, info=""))
        self._fields[task] = dict.fromkeys(fields, "")
        self._bars.refresh()
        return task

    def update(
        self, task: int, *, done: int | None = None, advance: int = 0, fields: Mapping[str, str] | None = None
    ) -> None:
        shown = self._fields[task]
        shown.update(fields or {})
        info = "  ".join(f"{name} {value}" for name, value in shown.items() if value)
        self._bars.update(TaskID(task), completed=done, advance=advance or None, info=info)
        self._bars.refresh()

    def start(self) -> None:
        self._bars.start()

    def stop(self) -> None:
        self._bars.stop()


class Lines(Progress):
    """A file or a CI log: plain lines at a steady pace (`PACE_FRACTION` of the task or `PACE_SECONDS`)."""

    def __init__(self, console: Console, clock: Clock = time.monotonic):
        self._console, self._clock = console, clock
        self._tasks: list[_Task] = []

    def add(self, stage: str, total: int, *, done: int = 0, unit: str = "", fields: tuple[str, ...] = ()) -> int:
        now = self._clock()
        self._tasks.append(_Task(stage, total, unit, done, done, now, fields=dict.fromkeys(fields, "")))
        self._print(self._tasks[-1], now)
        return len(self._tasks) - 1

    def update(
        self, task: int, *, done: int | None = None, advance: int = 0, fields: Mapping[str, str] | None = None
    ) -> None:
        t = self._tasks[task]
        t.done = (t.done if done is None else done) + advance
        t.fields.update(fields or {})
        now = self._clock()
        step = max(1, math.ceil(t.total * PACE_FRACTION))
        due = t.done - t.printed_done >= step or now - t.printed_at >= PACE_SECONDS
        if t.done != t.printed_done and (due or t.done >= t.total):
            self._print(t, now)

    def stop(self) -> None:
        """The last state of a task that ended between two lines (early stopping, an error)."""
        now = self._clock()
        for t in self._tasks:
            if t.done != t.printed_done:
                self._print(t, now)

    def _print(self, t: _Task, now: float) -> None:
        t.printed_done, t.printed_at = t.done, now
        self._console.print(t.line(now), markup=False, highlight=False, soft_wrap=True)


def progress(console: Console, *, clock: Clock = time.monotonic) -> Progress:
    """Bars in a terminal, paced lines anywhere else."""
    return Bars(console) if console.is_terminal else Lines(console, clock)


@contextmanager
def status(console: Console, message: str) -> Iterator[None]:
    """A step with no count (data check, prepare, an upload): a spinner in a terminal, one line anywhere else."""
    if console.is_terminal:
        with console.status(message):
            yield
    else:
        console.print(message, markup=False, highlight=False, soft_wrap=True)
        yield
