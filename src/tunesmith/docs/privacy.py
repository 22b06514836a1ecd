"""Documents under the data's PII policy (data.pii): the same analyzer, redaction and audit log as `data prepare`.

Each document is redacted on its own, as the dataset is redacted as a whole: a value found anywhere in a document
is swept from all of its passages, and a PERSON name that recurs across 10 or more of its passages is kept as the
organisation's or the product's name (data.keep_recurring_names); a phone number or e-mail address is not, however
often it recurs (see `document_policy`). Redacting per document is what lets a rebuild reuse an unchanged file's
passages; a value found in one document is therefore not swept from another (list such values under
data.pii_allow, or they are found in each document where the analyzer sees them). What the prepared dataset
decided is not personal data (its manifest's `pii`: data.pii_allow and the names and contacts it kept as the
organisation's over all the conversations) holds in the documents too. With `pseudonymize`, the key is the
dataset's (`.tunesmith/pii.key`), and the numbering (<PERSON_1>) is per document.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tunesmith.config import Config, DataConfig
from tunesmith.docs.passages import Passage

FIELDS = ("locator", "text")  # the passage's texts that are scanned: a heading can name a person too


def document_policy(cfg: Config) -> DataConfig:
    """data.pii with prepare's recorded decision added: the values the dataset allowed and the names and contacts it
    kept as the organisation's (counted over all the conversations) are not personal data in its documents either.

    A contact is not kept for recurring within a document: a CV or a letter repeats its author's phone number in
    every page's footer, and a document has no user turns to tell a caller's number from the organisation's. The
    helpline passes as the dataset's decision, or through data.pii_allow."""
    from tunesmith.data.redact import decided_allow

    allow = decided_allow(cfg.data.pii_allow, cfg.stage_dir("dataset"))
    return cfg.data.model_copy(update={"pii_allow": allow, "keep_recurring_contacts": False})


def redact_passages(
    passages: list[Passage], cfg: Config, key: bytes | None
) -> tuple[list[Passage], list[dict[str, Any]]]:
    """The passages with personal data replaced as data.pii says, and the audit records (no raw values)."""
    if cfg.data.pii == "off" or not passages:
        return passages, []
    from tunesmith.data.redact import redact

    records: list[dict[str, Any]] = [
        {
            "messages": [{"role": "user", "content": p.locator}, {"role": "assistant", "content": p.text}],
            "meta": {"id": p.id},
        }
        for p in passages
    ]
    log, _, _ = redact(records, document_policy(cfg), key)
    out = [
        replace(p, locator=r["messages"][0]["content"], text=r["messages"][1]["content"])
        for p, r in zip(passages, records, strict=True)
    ]
    source = {p.id: p.source for p in passages}
    audit = []
    for entry in log:
        rest = {k: v for k, v in entry.items() if k not in ("id", "message")}
        audit.append({"id": entry["id"], "source": source[entry["id"]], "field": FIELDS[entry["message"]], **rest})
    return out, audit
