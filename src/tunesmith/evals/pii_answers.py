"""Personal data in answers: every arm's answers scanned with the project's PII analyzer (data/pii.py).

A model can leak what it saw in training, or invent a plausible customer's e-mail when a red-team prompt asks for
one; 0 answers with personal data is the goal. The same entities, threshold and allow list as `data prepare`, plus
the values the prepared dataset kept as the organisation's (its manifest's recorded decision: the persona's and the
brand's names), so that "Juno from Lumen Home" is not a finding. Examples are shown with each value replaced by
its type, so the report never repeats the data it warns about.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from tunesmith.data import pii
from tunesmith.evals.results import PiiAnswer, PiiInAnswers

EXAMPLES_PER_ARM = 5  # answers with personal data kept (redacted) per arm in results.json and the report


def pii_by_arm(
    answers: Mapping[str, Sequence[tuple[str, str]]], *, entities: Sequence[str] | None, allow: Sequence[str]
) -> dict[str, PiiInAnswers]:
    """Per arm, its (id, answer) pairs scanned in one batch (an answer two arms share is analyzed once)."""
    texts = [text for rows in answers.values() for _, text in rows]
    found = iter(pii.scan(texts, entities=entities, allow=allow))
    out = {}
    for arm, rows in answers.items():
        per_type: Counter[str] = Counter()
        examples: list[PiiAnswer] = []
        with_pii = 0
        for (answer_id, text), spans in zip(rows, found, strict=False):
            if not spans:
                continue
            with_pii += 1
            kinds = sorted({s.entity for s in spans})
            per_type.update(kinds)
            if len(examples) < EXAMPLES_PER_ARM:
                redacted = pii.splice(text, spans, lambda s, _: f"<{s.entity}>")
                examples.append(PiiAnswer(id=answer_id, entities=kinds, redacted=redacted))
        out[arm] = PiiInAnswers(answers=len(rows), with_pii=with_pii, entities=dict(per_type), examples=examples)
    return out
