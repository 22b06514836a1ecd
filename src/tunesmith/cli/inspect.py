"""`tunesmith data inspect`: an example token by token, trained tokens highlighted (like axolotl's --debug)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from tunesmith.errors import DataError

if TYPE_CHECKING:
    from tunesmith.train.masking import TokenizedExample

console = Console()


def inspect(
    dataset: Annotated[Path, typer.Argument(help="A JSONL file, or a prepared dataset directory (train.jsonl).")],
    model: Annotated[str, typer.Option("--model", help="Tokenizer: a Hub id or a local model directory.")],
    example: Annotated[int, typer.Option("--example", help="1-based line of the example to show.")] = 1,
) -> None:
    """Show which tokens of an example carry loss: trained tokens highlighted, the others dimmed.

    Examples:
      tunesmith data inspect artifacts/dataset --model models/tiny
      tunesmith data inspect data/support.jsonl --model Qwen/Qwen3-0.6B --example 12
    """
    from tunesmith.train.masking import IGNORE_INDEX

    tokenizer, ex, path = tokenized_example(dataset, model, example)
    text = Text()
    for token_id, label in zip(ex.input_ids, ex.labels, strict=True):
        piece = tokenizer.decode([token_id]).replace("\n", "↵\n")
        text.append(piece, style="bold black on green" if label != IGNORE_INDEX else "dim")
    console.print(text)
    trained = sum(label != IGNORE_INDEX for label in ex.labels)
    console.print(
        f"\n{path}:{example}: {trained} of {len(ex.input_ids)} tokens trained "
        "([bold black on green]highlighted[/]); "
        f"{ex.turns_ending_in_eot} of {ex.trained_turns} assistant turns end with a trained end-of-turn token"
    )


def tokenized_example(dataset: Path, model: str, example: int) -> tuple[Any, TokenizedExample, Path]:
    """The tokenizer, the example's ids and labels exactly as the recipe trains them, and the file it came from."""
    from tunesmith.artifacts import read_jsonl
    from tunesmith.models.chat import end_of_turn_ids, record_tools
    from tunesmith.models.loading import load_tokenizer, saved_generation_eos
    from tunesmith.train.masking import tokenize_conversation

    path = dataset / "train.jsonl" if dataset.is_dir() else dataset
    if not path.exists():
        raise DataError(f"no such file: {path}", hint="pass a JSONL file or a prepared dataset directory")
    rows = read_jsonl(path)
    if not 1 <= example <= len(rows):
        raise DataError(f"--example {example} is out of range", file=path, hint=f"choose 1 to {len(rows)}")
    tokenizer = load_tokenizer(model)
    # The recipe's end-of-turn tokens: the template's and the model's own EOS ids, or the mask shown could differ.
    eot = end_of_turn_ids(tokenizer, saved_generation_eos(model))
    row = rows[example - 1]
    where = f" ({path}:{example})"
    return (
        tokenizer,
        tokenize_conversation(tokenizer, row["messages"], eot_ids=eot, where=where, tools=record_tools(row)),
        path,
    )
