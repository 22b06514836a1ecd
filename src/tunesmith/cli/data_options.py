"""The options of `tunesmith data check | prepare`: each derives its flag, help and default from its field in the
config's data section (`config_option`), so the CLI cannot drift from tunesmith.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tunesmith.cli.options import config_option
from tunesmith.config import EvalConfig, TrainConfig

Files = Annotated[list[Path], typer.Argument(help="JSONL, JSON, CSV or Parquet files.", show_default=False)]
FormatOpt = Annotated[str | None, config_option("format", "--format")]
ColumnsOpt = Annotated[
    str | None,
    config_option("columns", "--columns", metavar="FIELD=COLUMN,..."),  # e.g. prompt=question,completion=answer
]
KeepNamesOpt = Annotated[
    bool | None, config_option("keep_recurring_names", "--keep-recurring-names/--no-keep-recurring-names")
]
KeepContactsOpt = Annotated[
    bool | None, config_option("keep_recurring_contacts", "--keep-recurring-contacts/--no-keep-recurring-contacts")
]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Tokenizer (Hub id or path) for exact token counts.")]
EntitiesOpt = Annotated[str | None, config_option("pii_entities", "--pii-entities", metavar="ENTITY,...")]
AllowOpt = Annotated[list[str] | None, config_option("pii_allow", "--pii-allow", metavar="VALUE")]  # repeatable
MaxSeqLenOpt = Annotated[int | None, config_option("max_seq_len", "--max-seq-len", section=TrainConfig)]
LanguageCheckOpt = Annotated[
    str | None, config_option("language_check", "--language-check", metavar="offensive,blocklist|none")
]
LanguageThresholdOpt = Annotated[float | None, config_option("language_threshold", "--language-threshold")]
SentenceThresholdOpt = Annotated[
    float | None, config_option("language_sentence_threshold", "--language-sentence-threshold")
]
BlocklistOpt = Annotated[  # repeatable
    list[str] | None, config_option("blocklist", "--blocklist", section=EvalConfig, metavar="PHRASE")
]
NearDupOpt = Annotated[float | None, config_option("near_dup_threshold", "--near-dup-threshold")]
TestFilesOpt = Annotated[list[Path] | None, config_option("test_paths", "--test-file", metavar="FILE")]  # repeatable
ValFilesOpt = Annotated[list[Path] | None, config_option("val_paths", "--val-file", metavar="FILE")]
DataSetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="Set any key of the data section: --set data.split.min_test={refusal: 10}.", metavar="KEY=VALUE"
    ),
]
AgainstOpt = Annotated[
    Path | None,
    typer.Option(
        "--against",
        help="Preference pairs: a prepared dataset (or test.jsonl) whose test prompts they must not hold (leakage).",
    ),
]
