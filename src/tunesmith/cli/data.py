"""`tunesmith data check | prepare | diff | export`: parse, call tunesmith.data, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from tunesmith.cli.data_options import (
    AgainstOpt,
    AllowOpt,
    BlocklistOpt,
    ColumnsOpt,
    DataSetOpt,
    EntitiesOpt,
    Files,
    FormatOpt,
    KeepContactsOpt,
    KeepNamesOpt,
    LanguageCheckOpt,
    LanguageThresholdOpt,
    MaxSeqLenOpt,
    ModelOpt,
    NearDupOpt,
    SentenceThresholdOpt,
    TestFilesOpt,
    ValFilesOpt,
)
from tunesmith.cli.options import choice, config_option
from tunesmith.config import DataConfig, TrainConfig
from tunesmith.errors import EXIT_FINDINGS, ConfigError, ModelError

app = typer.Typer(help="Check, prepare, compare and export datasets.", no_args_is_help=True)
console = Console(highlight=False)
SHOWN_LINES = 8


def _data_config(command: str, overrides: list[str] | None, **options: Any) -> DataConfig:
    """The data section from the options given (None: not given, the section's value) and `--set data.KEY=VALUE`;
    an invalid value is a usage error (exit 2)."""
    from tunesmith.config import apply_override

    raw: dict[str, Any] = {"data": {k: v for k, v in options.items() if v is not None}}
    for item in overrides or []:
        if not item.strip().startswith("data."):
            raise ConfigError(f"bad --set '{item}': only data.KEY=VALUE here", hint="e.g. --set data.dedup=exact")
        apply_override(raw, item)
    if set(raw) != {"data"}:
        raise ConfigError("--set takes data.KEY=VALUE here", hint="e.g. --set data.dedup=exact")
    try:
        return DataConfig.model_validate(raw["data"])
    except ValidationError as e:
        first = e.errors()[0]
        key = ".".join(str(x) for x in first["loc"])
        raise ConfigError(
            f"invalid option: {first['msg']}" + (f" (data.{key})" if key else ""),
            hint=f"see `tunesmith data {command} --help`",
        ) from None


def _seq_len(command: str, value: int | None) -> int | None:
    """--max-seq-len, checked as train.max_seq_len is (None: its default)."""
    if value is None:
        return None
    try:
        return TrainConfig(max_seq_len=value).max_seq_len
    except ValidationError as e:
        raise ConfigError(
            f"invalid option: --max-seq-len {value}: {e.errors()[0]['msg']}",
            hint=f"see `tunesmith data {command} --help`",
        ) from None


def _files(paths: list[Path] | None) -> list[str] | None:
    return [str(p) for p in paths] if paths else None


def _shares(split: str | None) -> dict[str, float] | None:
    if split is None:
        return None
    try:
        train, val, test = (float(x) for x in split.split(","))
    except ValueError:
        raise ConfigError(
            f"invalid option: --split {split!r} is not three shares", hint="see `tunesmith data prepare --help`"
        ) from None
    return {"train": train, "val": val, "test": test}


def _tokenizer(model: str | None) -> Any:
    if model is None:
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model)
    except (OSError, ValueError) as e:
        raise ModelError(
            f"cannot load the tokenizer of '{model}': {e}",
            hint="pass a local model directory or a Hub id (HF_HUB_OFFLINE=1 needs a cached one)",
        ) from None


def _columns(value: str | None) -> dict[str, str] | None:
    if not value:
        return None
    pairs = [item.split("=", 1) for item in value.split(",") if item.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise ConfigError(
            f"invalid --columns '{value}'",
            hint="map canonical fields to your columns: --columns prompt=question,completion=answer",
        )
    return {k.strip(): v.strip() for k, v in pairs}


def _entities(value: str | None) -> list[str] | None:
    return [e.strip() for e in value.split(",") if e.strip()] if value else None


def _language(check: str | None, threshold: float | None, sentence_threshold: float | None) -> dict[str, Any]:
    """The problematic_language options that check and prepare both take; `--language-check none` turns it off."""
    categories = None if check is None else [c.strip() for c in check.split(",") if c.strip() not in ("", "none")]
    return {
        "language_check": categories,
        "language_threshold": threshold,
        "language_sentence_threshold": sentence_threshold,
    }


def _shared(
    format: str | None,
    pii_entities: str | None,
    pii_allow: list[str] | None,
    keep_recurring_names: bool | None,
    keep_recurring_contacts: bool | None,
    near_dup_threshold: float | None,
    columns: str | None,
    test_paths: list[Path] | None,
    val_paths: list[Path] | None,
) -> dict[str, Any]:
    """The data options that check and prepare both take, as data-section keys."""
    return {
        "format": format,
        "pii_entities": _entities(pii_entities),
        "pii_allow": pii_allow,
        "keep_recurring_names": keep_recurring_names,
        "keep_recurring_contacts": keep_recurring_contacts,
        "near_dup_threshold": near_dup_threshold,
        "columns": _columns(columns),
        "test_paths": _files(test_paths),
        "val_paths": _files(val_paths),
    }


def _lines(lines: list[int]) -> str:
    shown = ", ".join(map(str, lines[:SHOWN_LINES]))
    return shown + (f", … (+{len(lines) - SHOWN_LINES})" if len(lines) > SHOWN_LINES else "")


def render_check(report: Any) -> None:
    counts = report.stats["counts"]
    formats = ", ".join(f"{Path(p).name}: {f}" for p, f in report.formats.items())
    console.print(f"[bold]{report.examples}[/] valid examples from {counts['lines']} lines ({formats})")
    groups: dict[tuple[str, str], list[Any]] = {}
    for f in report.findings:
        groups.setdefault((f.severity, f.kind), []).append(f)
    if groups:
        table = Table(title="Findings", title_justify="left")
        for col in ("kind", "severity", "count", "first lines", "example"):
            table.add_column(col)
        for (severity, kind), items in sorted(groups.items(), key=lambda kv: (kv[0][0] != "error", kv[0][1])):
            style = "red" if severity == "error" else "yellow"
            lines = sorted({line for f in items for line in f.lines})
            table.add_row(kind, f"[{style}]{severity}[/]", str(len(items)), _lines(lines), items[0].message)
        console.print(table)
    s = report.stats
    t = s["tokens_per_example"]["total"]
    console.print(
        f"tokens per example: median {t['median']:.0f}, p90 {t['p90']:.0f}, max {t['max']:.0f} "
        f"({s['token_counter']})\n"
        f"assistant share of tokens {s['assistant_token_share']:.0%}; system prompt in "
        f"{s['system_prompt_coverage']:.0%} of examples; refusals {s['refusal_share']:.0%}\n"
        f"default epochs {s['default_epochs']}; ~{s['estimated_training_tokens']:,} training tokens "
        f"({s['estimated_training_tokens_per_epoch']:,} per epoch)"
    )
    div = s.get("diversity") or {}
    if div:
        spread = f", embedding spread {div['embedding_spread']:.2f}" if "embedding_spread" in div else ""
        console.print(f"diversity: distinct-1 {div['distinct_1']:.2f}, distinct-2 {div['distinct_2']:.2f}{spread}")
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    verdict = "[red]errors found[/]" if report.has_errors else "[green]no errors[/]"
    console.print(
        f"{verdict}: {counts['errors']} error(s), {counts['warnings']} warning(s). "
        "--json or --report FILE.html lists every line."
    )


def render_prepare(result: Any, out: Path, *, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "out_dir": str(result.out_dir),
                    "dataset_hash": result.dataset_hash,
                    "counts": result.counts,
                    "warnings": result.warnings,
                }
            )
        )
        return
    c = result.counts
    dropped = ", ".join(f"{k} {v}" for k, v in c["dropped"].items()) or "nothing"
    console.print(
        f"wrote {out}: train {c['train']}, val {c['val']}, test {c['test']} (from {c['input']} lines; "
        f"dropped {dropped})"
    )
    if "parent" in c:
        n = c["new"]
        console.print(
            f"parent {c['parent']['dataset_hash'][:12]} kept (test frozen at {c['parent']['test']}); "
            f"new examples: train {n['train']}, val {n['val']}"
        )
    if c["redacted"]:
        console.print("PII replaced: " + ", ".join(f"{k} {v}" for k, v in c["redacted"].items()))
    for w in result.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(f"dataset hash {result.dataset_hash}")


@app.command()
def check(
    files: Files,
    format: FormatOpt = None,
    model: ModelOpt = None,
    max_seq_len: MaxSeqLenOpt = None,
    pii_entities: EntitiesOpt = None,
    pii_allow: AllowOpt = None,
    near_dup_threshold: NearDupOpt = None,
    no_pii: Annotated[bool, typer.Option("--no-pii", help="Skip the PII scan.")] = False,
    no_embeddings: Annotated[bool, typer.Option("--no-embeddings", help="Skip the embedding spread.")] = False,
    keep_recurring_names: KeepNamesOpt = None,
    keep_recurring_contacts: KeepContactsOpt = None,
    pii_name_sample: Annotated[int | None, config_option("pii_name_sample", "--pii-name-sample")] = None,
    embedding_sample: Annotated[int | None, config_option("embedding_sample", "--embedding-sample")] = None,
    columns: ColumnsOpt = None,
    test_paths: TestFilesOpt = None,
    val_paths: ValFilesOpt = None,
    against: AgainstOpt = None,
    blocklist: BlocklistOpt = None,
    language_check: LanguageCheckOpt = None,
    language_threshold: LanguageThresholdOpt = None,
    language_sentence_threshold: SentenceThresholdOpt = None,
    language_severity: Annotated[str | None, config_option("language_severity", "--language-severity")] = None,
    overrides: DataSetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Write every finding to an HTML file.")] = None,
) -> None:
    """Report every problem in the data. Exit 0: no errors; 1: errors; 2: nothing usable.

    Examples:
      tunesmith data check data/support.jsonl
      tunesmith data check data/*.jsonl --model models/tiny --max-seq-len 1024 --json > findings.json
      tunesmith data check data/support.jsonl --pii-allow 1-800-555-0199 --report findings.html
      tunesmith data check data/pairs.jsonl --against artifacts/dataset
      tunesmith data check data/support.jsonl --test-file data/reviewed-test.jsonl
      tunesmith data check data/support.jsonl --blocklist "guaranteed returns" --set data.language_threshold=0.5
    """
    from tunesmith.data.check import check_files
    from tunesmith.data.report import write_html

    cfg = _data_config(
        "check",
        overrides,
        pii_name_sample=pii_name_sample,
        embedding_sample=embedding_sample,
        language_severity=language_severity,
        **_language(language_check, language_threshold, language_sentence_threshold),
        **_shared(
            format,
            pii_entities,
            pii_allow,
            keep_recurring_names,
            keep_recurring_contacts,
            near_dup_threshold,
            columns,
            test_paths,
            val_paths,
        ),
    )
    result = check_files(
        files,
        cfg,
        max_seq_len=_seq_len("check", max_seq_len),
        tokenizer=_tokenizer(model),
        diversity=not no_embeddings,
        pii_scan=not no_pii,
        test=against,
        blocklist=blocklist or (),
    )
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        render_check(result)
    if report is not None:
        write_html(result, report)
        if not as_json:
            console.print(f"report: {report}")
    if result.has_errors:
        raise typer.Exit(EXIT_FINDINGS)


@app.command()
def prepare(
    files: Files,
    out: Annotated[Path, typer.Option("--out", help="Output directory (written atomically).")],
    format: FormatOpt = None,
    model: ModelOpt = None,
    max_seq_len: MaxSeqLenOpt = None,
    too_long: Annotated[str | None, config_option("too_long", "--too-long")] = None,
    pii: Annotated[str | None, config_option("pii", "--pii")] = None,
    pii_entities: EntitiesOpt = None,
    pii_allow: AllowOpt = None,
    pii_key_file: Annotated[
        Path | None, typer.Option("--pii-key-file", help="HMAC key for pseudonyms, outside --out (created if absent).")
    ] = None,
    keep_recurring_names: KeepNamesOpt = None,
    keep_recurring_contacts: KeepContactsOpt = None,
    dedup: Annotated[str | None, config_option("dedup", "--dedup")] = None,
    near_dup_threshold: NearDupOpt = None,
    conflicts: Annotated[str | None, config_option("conflicts", "--conflicts")] = None,
    refusals: Annotated[str | None, config_option("refusals", "--refusals")] = None,
    duplicate_ids: Annotated[str | None, config_option("duplicate_ids", "--duplicate-ids")] = None,
    allow_unreviewed: Annotated[bool | None, config_option("allow_unreviewed", "--allow-unreviewed")] = None,
    problematic_language: Annotated[str | None, config_option("problematic_language", "--problematic-language")] = None,
    blocklist: BlocklistOpt = None,
    language_check: LanguageCheckOpt = None,
    language_threshold: LanguageThresholdOpt = None,
    language_sentence_threshold: SentenceThresholdOpt = None,
    columns: ColumnsOpt = None,
    parent: Annotated[
        Path | None,
        typer.Option("--parent", help="Previous prepared dataset: kept whole, its test split frozen; new data added."),
    ] = None,
    test_paths: TestFilesOpt = None,
    val_paths: ValFilesOpt = None,
    against: AgainstOpt = None,
    split: Annotated[
        str | None,
        config_option(
            "split", "--split", metavar="TRAIN,VAL,TEST", shown=lambda d: f"{d.train:g},{d.val:g},{d.test:g}"
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="The seed of the split (project.seed; default 0).")] = None,
    overrides: DataSetOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace --out even when tunesmith did not write it (never the inputs).")
    ] = False,
) -> None:
    """Fix what can be fixed safely, split without leakage, and write a versioned dataset.

    Examples:
      tunesmith data prepare data/support.jsonl --out artifacts/dataset
      tunesmith data prepare data/*.jsonl --out artifacts/dataset --pii pseudonymize --seed 1
      tunesmith data prepare data/*.jsonl --out artifacts/dataset --set data.split.min_test={out_of_scope: 10}
      tunesmith data prepare data/support.jsonl --test-file data/reviewed-test.jsonl --out artifacts/dataset
      tunesmith data prepare reviewed.jsonl --parent artifacts/dataset --out artifacts/dataset-v2
      tunesmith data prepare pairs.jsonl --against artifacts/dataset --out artifacts/pairs
    """
    from tunesmith.config import ProjectConfig
    from tunesmith.data.prepare import prepare_dataset

    cfg = _data_config(
        "prepare",
        overrides,
        too_long=too_long,
        pii=pii,
        dedup=dedup,
        conflicts=conflicts,
        refusals=refusals,
        duplicate_ids=duplicate_ids,
        allow_unreviewed=allow_unreviewed,
        problematic_language=problematic_language,
        split=_shares(split),
        **_language(language_check, language_threshold, language_sentence_threshold),
        **_shared(
            format,
            pii_entities,
            pii_allow,
            keep_recurring_names,
            keep_recurring_contacts,
            near_dup_threshold,
            columns,
            test_paths,
            val_paths,
        ),
    )
    result = prepare_dataset(
        files,
        out,
        cfg,
        max_seq_len=_seq_len("prepare", max_seq_len),
        seed=ProjectConfig().seed if seed is None else seed,
        tokenizer=_tokenizer(model),
        pii_key_file=pii_key_file,
        parent=parent,
        against=against,
        overwrite=overwrite,
        blocklist=blocklist or (),
    )
    render_prepare(result, out, as_json=as_json)


@app.command()
def diff(
    dir_a: Annotated[Path, typer.Argument(help="A prepared dataset directory.")],
    dir_b: Annotated[Path, typer.Argument(help="Another one.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """What changed between two versions of a prepared dataset.

    Examples:
      tunesmith data diff artifacts/dataset-v1 artifacts/dataset-v2
    """
    from tunesmith.data.diff import diff_datasets

    d = diff_datasets(dir_a, dir_b)
    if as_json:
        typer.echo(json.dumps(d.to_json()))
        return
    if d.same:
        console.print(f"identical (hash {d.hash_a[:12]})")
        return
    lineage = " (B is a child of A)" if d.b_is_child_of_a else ""
    console.print(f"{d.hash_a[:12]} -> {d.hash_b[:12]}{lineage}")
    table = Table()
    for col in ("split", "before", "after", "added", "removed", "changed"):
        table.add_column(col)
    for s, row in d.splits.items():
        table.add_row(s, *(str(row[k]) for k in ("before", "after", "added", "removed", "changed")))
    console.print(table)
    if d.moved:
        console.print(f"{len(d.moved)} example(s) moved between splits")
    for key, (a, b) in d.options.items():
        console.print(f"option {key}: {a!r} -> {b!r}")


@app.command()
def export(
    dataset: Annotated[Path, typer.Argument(help="A prepared dataset directory.")],
    to: Annotated[
        str, typer.Option("--to", help="openai | bedrock | vertex", callback=choice("openai", "bedrock", "vertex"))
    ],
    out: Annotated[Path, typer.Option("--out", help="Output JSONL file.")],
    split: Annotated[str, typer.Option("--split", help="Which split to export.")] = "train",
    model: ModelOpt = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file.")] = False,
) -> None:
    """Write a vendor's fine-tuning format, checked against its documented limits.

    Examples:
      tunesmith data export artifacts/dataset --to openai --out train-openai.jsonl
      tunesmith data export artifacts/dataset --to bedrock --out train-bedrock.jsonl
    """
    from tunesmith.data.export import export_dataset

    r = export_dataset(dataset, to, out, split=split, tokenizer=_tokenizer(model), overwrite=overwrite)
    if as_json:
        typer.echo(json.dumps(r.to_json()))
    else:
        console.print(f"wrote {r.written} example(s) to {out} ({to}); ~{r.training_tokens:,} tokens per epoch")
        for item in r.dropped:
            console.print(f"[yellow]dropped[/] {item['id']}: {item['reason']}")
        for item in r.truncated:
            console.print(f"[yellow]would be truncated[/] {item['id']}: {item['reason']}")
        for w in r.warnings:
            console.print(f"[yellow]warning:[/] {w}")
    if r.errors:
        for e in r.errors:
            console.print(f"[red]error:[/] {e}")
        raise typer.Exit(EXIT_FINDINGS)
