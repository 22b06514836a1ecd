"""The evaluation stage with `eval.engine: hf` against `eval.engine: llamacpp`, on a project that has trained.

    python benchmarks/eval_engines.py PROJECT_DIR [--repeats 3] [--set eval.limit=20 ...]

Runs the project's whole evaluation stage (`tunesmith run --only eval`: every arm, the safety prompts, the forgetting
check) once per engine and repeat, the engines alternating so that a change in the machine's load falls on both,
each into a temporary folder (the project's own artifacts are not touched). Reports the median wall time of each
engine and their ratio, then whether the two tables say the same thing: each arm's headline metric, abstention and
over-refusal counts, the winning arm, and the sign of every paired interval of the fine-tuned arm against the
others (above 0, below 0, or across it). Time it alone: two torch jobs on two cores slow each other several-fold.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console

from tunesmith.config.loader import load_config
from tunesmith.evals.results import EvalResults
from tunesmith.evals.runner import evaluate

ENGINES = ("hf", "llamacpp")


def _sign(ci: tuple[float, float]) -> str:
    return "+" if ci[0] > 0 else "-" if ci[1] < 0 else "0"


def _signs(r: EvalResults) -> dict[str, str]:
    """The sign of every paired interval of the fine-tuned arms against every other arm, metric by metric."""
    out = {}
    for arm, result in r.arms.items():
        for other, deltas in (result.delta_vs or {}).items():
            for metric, delta in deltas.items():
                out[f"{arm} vs {other}: {metric}"] = _sign(delta.ci)
    return out


def _winner(r: EvalResults) -> str:
    return max(r.arms, key=lambda a: r.arms[a].metrics.get(r.headline_metric, float("-inf")))


def _row(r: EvalResults, arm: str) -> str:
    result = r.arms[arm]
    counts = [c for m in ("abstention", "over_refusal") if (c := result.count(m))]
    shown = ", ".join(f"{k}/{n}" for k, n in counts)
    return f"{result.metrics.get(r.headline_metric, float('nan')):.3f} ({shown})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("project", type=Path, help="a project folder with tunesmith.yaml and a finished training run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], help="config overrides, section.key=value")
    args = parser.parse_args()
    walls: dict[str, list[float]] = {e: [] for e in ENGINES}
    last: dict[str, EvalResults] = {}
    quiet = Console(quiet=True)
    with tempfile.TemporaryDirectory(prefix="eval-engines-") as tmp:
        for repeat in range(args.repeats):
            for engine in ENGINES:
                cfg = load_config(args.project / "tunesmith.yaml", [*args.set, f"eval.engine={engine}"])
                t0 = time.perf_counter()
                result = evaluate(cfg, out_dir=Path(tmp) / f"{engine}-{repeat}", console=quiet)
                walls[engine].append(time.perf_counter() - t0)
                last[engine] = result.results
                print(f"repeat {repeat + 1}, {engine}: {walls[engine][-1]:.1f} s", flush=True)
    medians = {e: statistics.median(w) for e, w in walls.items()}
    hf, cpp = last["hf"], last["llamacpp"]
    print(f"\neval stage, median of {args.repeats} (load average {os.getloadavg()[0]:.2f}):")
    for engine in ENGINES:
        print(f"  {engine:>9}: {medians[engine]:.1f} s  (runs: {', '.join(f'{w:.1f}' for w in walls[engine])})")
    print(f"  llamacpp is {medians['hf'] / medians['llamacpp']:.2f}x faster\n")
    print(f"{'arm':>12}  {'hf ' + hf.headline_metric:>28}  {'llamacpp':>28}")
    for arm in hf.arms:
        print(f"{arm:>12}  {_row(hf, arm):>28}  {_row(cpp, arm):>28}")
    print(f"winner: hf {_winner(hf)}, llamacpp {_winner(cpp)}")
    a, b = _signs(hf), _signs(cpp)
    changed = [k for k in a if a[k] != b.get(k)]
    print(
        f"paired intervals: {len(a)}, sign changed: {len(changed)}"
        + "".join(f"\n  {k}: {a[k]} -> {b[k]}" for k in changed)
    )


if __name__ == "__main__":
    main()
