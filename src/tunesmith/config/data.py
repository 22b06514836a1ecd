"""The data section: what the data check reads and how prepare turns raw files into the three splits."""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import Field, field_validator, model_validator

from tunesmith.config.base import Section
from tunesmith.records import Format

# The categories of the problematic_language finding (data.language_check).
LanguageCategory = Literal["offensive", "blocklist"]


class SplitConfig(Section):
    train: float = Field(0.8, ge=0, le=1, description="Share of examples in train.jsonl.")
    val: float = Field(0.1, ge=0, le=1, description="Share in val.jsonl (validation loss during training).")
    test: float = Field(0.1, ge=0, le=1, description="Share in test.jsonl (held out for evaluation).")
    min_test: dict[str, int] = Field(
        default_factory=dict,
        description="Tags that need at least N test examples, {out_of_scope: 10}: a rare behaviour is measured on "
        "more than noise; at most 60% of a tag's examples are reserved for test; the shares still hold overall.",
    )

    @model_validator(mode="after")
    def _sums_to_one(self) -> SplitConfig:
        if abs(self.train + self.val + self.test - 1.0) > 1e-6:
            raise ValueError(f"split shares must add up to 1 (got {self.train + self.val + self.test:g})")
        return self


class DataConfig(Section):
    paths: list[str] = Field(default_factory=list, description="Input files, relative to tunesmith.yaml.")
    test_paths: list[str] = Field(
        default_factory=list,
        description="Your own test set: files, relative to tunesmith.yaml, that are the test split as they are "
        "(split.test is then ignored, train and val shares renormalised); checked and redacted like the rest, never "
        "deduplicated against themselves; an example of data.paths that duplicates or nearly duplicates one of them "
        "is dropped (in_test_paths).",
    )
    val_paths: list[str] = Field(
        default_factory=list,
        description="Likewise for the validation split: files used as val.jsonl as they are (split.val ignored); "
        "an example of data.paths that duplicates or nearly duplicates one of them is dropped (in_val_paths).",
    )
    format: Format | None = Field(
        None, description=f"Force the input format ({', '.join(get_args(Format))}); auto if unset."
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="CSV/Parquet columns, canonical field -> column: {prompt: question, completion: answer}.",
    )
    too_long: Literal["drop", "truncate"] = Field(
        "drop", description="What prepare does with examples over train.max_seq_len tokens (the sequence length)."
    )
    pii: Literal["redact", "pseudonymize", "off"] = Field(
        "redact", description="How prepare treats personal data found by Presidio."
    )
    pii_entities: list[str] | None = Field(
        None,
        description="Presidio entity types to find; the default covers personal data, not URLs or dates.",
    )
    pii_allow: list[str] = Field(
        default_factory=list, description="Values that are not personal data (your support phone or email)."
    )
    keep_recurring_names: bool = Field(
        True, description="Names found in 10+ examples are brand, product or persona names: keep them."
    )
    keep_recurring_contacts: bool = Field(
        True,
        description="Phone numbers and e-mail addresses found in 10+ examples are the organisation's: keep them.",
    )
    dedup: Literal["near", "exact", "off"] = Field(
        "near", description="near: drop exact and near duplicates; exact: exact ones only."
    )
    near_dup_threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="MinHash Jaccard similarity of user turns above which two are near duplicates.",
    )
    conflicts: Literal["majority", "drop", "keep"] = Field(
        "majority",
        description="Same prompt, different answers: keep the majority answer, drop all, or keep all.",
    )
    split: SplitConfig = Field(default_factory=SplitConfig, description="train/val/test shares.")
    refusals: Literal["auto", "off"] = Field(
        "auto",
        description="auto: when the data has too few refusals for its topics (the check's refusal_coverage), "
        "prepare adds the missing near-domain out-of-scope questions with the project's own refusal, to train only, "
        "tagged generated (the dataset card lists them); off: train on the data as it is.",
    )
    duplicate_ids: Literal["rename", "refuse"] = Field(
        "rename",
        description="Examples that share a meta.id (the check's duplicate_id): rename keeps the first in file order "
        "and gives the others id~2, id~3...; refuse stops prepare until each example has its own id.",
    )
    allow_unreviewed: bool = Field(
        False,
        description="prepare: train on examples tagged needs_review (the model's answers from `monitor "
        "export-review`, generated drafts) that no person has reviewed; off, prepare refuses them (exit 2) and names "
        "them. The dataset card records it when on.",
    )
    pii_name_sample: int | None = Field(
        5_000,
        ge=0,
        description="check: look for names in at most this many distinct messages (seeded sample); 0 or null: all.",
    )
    embedding_sample: int = Field(1000, ge=2, description="check: prompts embedded for the diversity spread.")
    language_check: list[LanguageCategory] = Field(
        default_factory=lambda: list[LanguageCategory](["offensive", "blocklist"]),
        description="check: what the problematic_language finding looks for in the assistant answers (the chosen "
        "ones of preference pairs): offensive, abusive, hateful or profane language by the alt-profanity-check "
        "classifier (shipped in its wheel, offline); blocklist, a phrase of eval.blocklist. []: off.",
    )
    language_threshold: float = Field(
        0.45,
        gt=0,
        lt=1,
        description="check: the offensive classifier's probability of a whole answer from which it is flagged "
        "(docs/data.md: precision and recall by threshold).",
    )
    language_sentence_threshold: float = Field(
        0.6,
        gt=0,
        lt=1,
        description="check: the same for any one sentence of an answer of several; higher, since a sentence alone "
        "gives the classifier fewer words and one charged word ('stolen', 'fraud') weighs more.",
    )
    language_severity: Literal["warning", "error"] = Field(
        "warning", description="check: the severity of problematic_language; error makes `data check` exit 1."
    )
    problematic_language: Literal["drop", "keep"] = Field(
        "drop",
        description="prepare: drop the examples flagged problematic_language, or keep them and train on them; the "
        "dataset card counts them either way.",
    )

    @field_validator("pii", "dedup", mode="before")
    @classmethod
    def _bare_off(cls, value: Any) -> Any:
        """YAML 1.1 reads a bare `off` as false: `pii: off` means "off"."""
        return "off" if value is False else value

    @model_validator(mode="after")
    def _held_out_files_are_apart(self) -> DataConfig:
        for a, b in (("paths", "test_paths"), ("paths", "val_paths"), ("test_paths", "val_paths")):
            both = sorted(set(getattr(self, a)) & set(getattr(self, b)))
            if both:
                raise ValueError(f"{', '.join(both)} is in both data.{a} and data.{b}: a file feeds one split")
        return self

    def held_out(self) -> dict[str, list[str]]:
        """The splits that come from their own files ({"test": test_paths, "val": val_paths}, when set)."""
        return {s: files for s, files in (("test", self.test_paths), ("val", self.val_paths)) if files}
