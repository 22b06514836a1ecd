"""`data prepare`: apply the chosen fixes, split without leakage, and write a versioned dataset directory.

Order matters, and is the same for every kind of data: duplicates and conflicts are resolved on the raw text
(redaction would make distinct examples look alike), personal data is removed from what is kept, lengths are
measured on the redacted text, and groups are split as units so that no test example has a twin in train. The
kind (`data.kinds`) supplies what differs: how its items group, load, redact, fit and are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tunesmith.artifacts import check_output
from tunesmith.config import DataConfig, TrainConfig, default_of
from tunesmith.data import language, stats
from tunesmith.data.kinds import DataKind, kind_for
from tunesmith.data.redact import load_key
from tunesmith.data.store import (
    PiiKey,
    PrepareResult,
    no_valid_example,
    read_prepared,
    repaired_warning,
    settle_ids,
    tokenizer_identity,
    write_dataset,
)
from tunesmith.data.unreviewed import card_section, refuse_unreviewed
from tunesmith.errors import DataError

__all__ = ["PrepareResult", "prepare_dataset", "read_prepared"]


def _problematic(
    kind: DataKind, items: list[dict[str, Any]], drop: dict[int, str], cfg: DataConfig, blocklist: Sequence[str]
) -> int:
    """Flag the examples with problematic language; drop them (reason `problematic_language`) unless
    data.problematic_language is keep, which the warnings, and so the card, say. Returns how many were flagged."""
    flagged = [f.index for f in language.flag(items, cfg, blocklist)]
    if cfg.problematic_language == "drop":
        for i in flagged:  # the reason that counts: a copy of an insult is dropped for the insult
            drop[i] = "problematic_language"
    elif flagged:
        kind.warnings.append(
            f"kept {len(flagged)} example(s) whose answers hold problematic language (offensive or blocklisted; "
            "`tunesmith data check` lists them), as data.problematic_language: keep says: the model trains on them"
        )
    return len(flagged)


def _prepare(
    kind: DataKind,
    paths: Sequence[str | Path],
    out_dir: Path,
    cfg: DataConfig,
    key: PiiKey,
    max_seq_len: int,
    seed: int,
    tokenizer: Any,
    overwrite: bool,
    blocklist: Sequence[str],
) -> PrepareResult:
    """Prepare `paths`, items of `kind`, into `out_dir` (see `prepare_dataset`), pseudonymising with `key`."""
    # Fail before the work: a --parent is the version being replaced, but the data files must survive.
    check_output(out_dir, overwrite=overwrite, inputs=kind.inputs(paths))
    loaded = kind.load_inputs(paths)
    items = loaded.records
    if not items:
        raise no_valid_example(loaded.findings, list(loaded.formats) or [str(p) for p in paths])
    unreviewed = refuse_unreviewed(items, cfg.allow_unreviewed)  # a parent's examples were let in when it was made
    if unreviewed is not None:
        kind.warnings.append(unreviewed)
    settle_ids(items, cfg.duplicate_ids)  # before anything keys on the ids
    kind.warnings += repaired_warning(loaded.repaired)
    drop = kind.plan_drops(items)
    flagged = _problematic(kind, items, drop, cfg, blocklist)
    if cfg.pii == "pseudonymize":
        key.key, key.new = load_key(key.path, out_dir)
    kept = [i for i in range(len(items)) if i not in drop]
    log, pii_counts = kind.redact(items, kept, key)
    counter = stats.TokenCounter(tokenizer)
    kind.fit_lengths(items, kept, counter, max_seq_len)
    rows = kind.split(items, seed)
    counts = {**kind.counts(loaded, rows, pii_counts), "problematic_language": flagged}
    extra = kind.extra(loaded.formats)
    digest = write_dataset(
        out_dir,
        rows,
        options=kind.options(max_seq_len, seed, tokenizer_identity(tokenizer, counter.method)),
        log=log,
        card=lambda digest: (
            kind.card(counts, max_seq_len, seed, digest, extra["sources"], pii_counts) + card_section(unreviewed)
        ),
        manifest={"inputs": kind.inputs(paths), "counts": counts, "extra": extra},
        pii_key=key,
        overwrite=overwrite,
    )
    return PrepareResult(out_dir=out_dir, counts=counts, dataset_hash=digest, warnings=kind.warnings)


def prepare_dataset(
    paths: Sequence[str | Path],
    out_dir: str | Path,
    cfg: DataConfig,
    *,
    max_seq_len: int | None = None,
    seed: int = 0,
    tokenizer: Any = None,
    pii_key_file: str | Path | None = None,
    parent: str | Path | None = None,
    against: str | Path | None = None,
    overwrite: bool = False,
    blocklist: Sequence[str] = (),
) -> PrepareResult:
    """Write train/val/test.jsonl, manifest.json, README.md and redactions.jsonl into `out_dir`, atomically.

    With `pii="pseudonymize"` and no `pii_key_file`, the key is created next to the directory as
    `<out_dir>.pii-key`; keep it to reproduce the same pseudonyms. Every setting comes from `cfg`, the data section,
    but the sequence length: `max_seq_len` is train.max_seq_len (its default if None), so that prepare drops or
    truncates (data.too_long) exactly what training would cut.

    With `parent` (a directory written by an earlier prepare), the new version holds every parent example
    unchanged and in its split (the test split is frozen, so evaluations stay comparable) plus the new files'
    examples, which get the same checks, dedup and PII treatment and go to train and val only. A new example that
    duplicates, nearly duplicates or contradicts a parent example is dropped (`in_parent`): the parent's is kept,
    and no new example can be a twin of a test example.

    With `cfg.test_paths` (and `cfg.val_paths`), those files are the test (val) split as they are: checked and
    redacted like the rest, never deduplicated nor dropped, and every example of `paths` that duplicates, nearly
    duplicates or contradicts one of theirs is dropped (`in_test_paths`, `in_val_paths`; the manifest lists them
    under `held_out_duplicates`); `paths` fill the other splits, their shares renormalised. The manifest's
    `splits` says where each split came from. With a `parent`, its splits are frozen and the files are not re-read.

    Files of preference pairs are prepared as pairs, keyed by the prompt (data/preference.py): copies and
    contradicting pairs are dropped as `cfg.dedup` and `cfg.conflicts` say, a pair over `max_seq_len` on either side
    is dropped (never truncated), and `against` (a prepared dataset or a test.jsonl) drops the pairs whose prompt is
    in that test split (`leakage`). With a `parent`, a new pair whose prompt the parent has joins its split.

    An example whose answers hold problematic language (the check's `problematic_language`: the offensive-language
    classifier, and the phrases of `blocklist`, eval.blocklist) is dropped or kept as `cfg.problematic_language`
    says; the counts and the card give how many were flagged.
    """
    hint = "prepare the pairs with --against DATASET to keep a test split's prompts out"
    kind = kind_for(paths, cfg, hint=hint, against=against, parent=parent)
    if against is not None and kind.name == "conversation":
        raise DataError("--against applies to preference pairs", hint="use --parent to add conversations")
    out_dir = Path(out_dir)
    key = PiiKey(Path(pii_key_file) if pii_key_file else out_dir.with_name(out_dir.name + ".pii-key"))
    length = default_of(TrainConfig, "max_seq_len") if max_seq_len is None else max_seq_len
    return _prepare(kind, paths, out_dir, cfg, key, length, seed, tokenizer, overwrite, blocklist)
