"""`python -m tunesmith.train CONFIG [options]`: the form `accelerate launch` and `torchrun` start once per process.

It calls the training API (`tunesmith.train.recipe.run_train`, the function `tunesmith train CONFIG` calls), not
the CLI.
The options are those of `tunesmith train` that make sense in a launched process: --method, --epochs,
--learning-rate, --set KEY=VALUE (repeatable), --resume/--no-resume and --yes; --dry-run and --num-processes stay
with `tunesmith train`. A user's mistake prints `error:` and `hint:` on stderr and exits 2, as the CLI does; only
the first process prints progress.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from tunesmith.errors import EXIT_INTERNAL, TunesmithError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, with `sets`: the overrides as `--set` strings (the flags first, as `tunesmith train` orders
    them)."""
    parser = argparse.ArgumentParser(prog="python -m tunesmith.train", description=__doc__.splitlines()[0])
    parser.add_argument("config", help="Path of tunesmith.yaml.")
    parser.add_argument("--method", help="lora, dora, qlora or full (train.method).")
    parser.add_argument("--epochs", type=float, help="Epochs (train.epochs).")
    parser.add_argument("--learning-rate", type=float, help="Peak learning rate (train.learning_rate).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override a config key.")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=None, help="Resume or start over.")
    parser.add_argument("--yes", "-y", action="store_true", help="Confirm the upload to a vendor (train.backend).")
    args, rest = parser.parse_known_args(argv)
    for option in ("--dry-run", "--num-processes"):
        if any(a == option or a.startswith(option + "=") for a in rest):
            parser.error(
                f"{option} is an option of `tunesmith train {args.config} {option} ...`, not of a launched process"
            )
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    flags = {"method": args.method, "epochs": args.epochs, "learning_rate": args.learning_rate}
    args.sets = [f"train.{k}={v}" for k, v in flags.items() if v is not None] + list(args.set)
    return args


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from tunesmith.config import load_config
    from tunesmith.train.recipe import run_train

    args = parse_args(argv)
    err = Console(stderr=True, highlight=False)
    try:
        cfg = load_config(args.config, args.sets)
        # torchrun and accelerate set RANK; the recipe itself prints only on the main process too.
        run_train(cfg, Console(quiet=os.environ.get("RANK", "0") != "0"), resume=args.resume, yes=args.yes)
    except TunesmithError as e:
        err.print(f"[bold red]error:[/] {e}", soft_wrap=True)
        if e.hint:
            err.print(f"[yellow]hint:[/] {e.hint}", soft_wrap=True)
        return e.exit_code
    except Exception:
        traceback.print_exc()
        return EXIT_INTERNAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
