"""Values the deployer owns, told from a customer's by how often they recur: the organisation's, product's and
persona's names, and the organisation's own phone numbers and e-mail addresses (data.keep_recurring_names,
data.keep_recurring_contacts). The analyzer (`data/pii.py`) finds values; this decides which of them are not
personal data. No library counts values over examples this way, so it is ours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from tunesmith.data.pii import Span, Texts, normalize_value, whole_words

# A PERSON value found in at least this many examples (and this share of them) is the name of the product, the
# brand or the assistant's persona ("You are Juno, the assistant for Lumen Home"), not a customer: customers do
# not recur across a dataset. It is reported and kept, unless keep_recurring_names=False. The same holds for a
# phone number or an e-mail address (CONTACT_ENTITIES) that recurs in the answers or system prompts: it is the
# organisation's helpline, which its answers give out ("call 0800 555 0142"); a customer's is in their own turns.
# Redacted, the fine-tune learned to tell members to call "<PHONE_NUMBER>" (keep_recurring_contacts=False redacts
# them).
RECURRING_MIN, RECURRING_SHARE = 10, 0.01
CONTACT_ENTITIES = ("PHONE_NUMBER", "EMAIL_ADDRESS")
# A PERSON value in the system prompt of more than this share of the examples is the organisation's or the
# persona's name whatever the dataset's size: the deployer wrote the system prompt, customers do not appear in it.
SYSTEM_PROMPT_SHARE = 0.5
# `check` lists at most this many of the PERSON values found in the most examples (FREQUENT_MIN or more).
FREQUENT_TOP, FREQUENT_MIN = 10, 2


@dataclass
class NameCounts:
    """How many examples hold each value (PERSON, or a contact: `name_counts`'s entities), anywhere and in their
    system prompt, out of `examples`.

    An example "holds" a value when the value appears in it as a whole word, found by the name model there or
    not: spaCy tags "Marlowe" in "Marlowe handles leave" and not in "At Marlowe Logistics", so counting only the
    texts where the model fired made a name shared by every example (one system prompt, a few canonical answers)
    look rare, and the sweep then redacted it everywhere.
    """

    examples: int
    anywhere: dict[str, int]
    in_system: dict[str, int]
    forms: dict[str, str]  # the normalised value -> its most frequent spelling, the one to put in data.pii_allow

    def recurring(self) -> set[str]:
        """Values kept as the organisation's, the product's or the persona's name."""
        floor = max(RECURRING_MIN, RECURRING_SHARE * self.examples)
        kept = {
            v
            for v, n in self.anywhere.items()
            if n >= floor or self.in_system.get(v, 0) > SYSTEM_PROMPT_SHARE * self.examples
        }
        # "Marlowe Logistics" is the same name as a kept "Marlowe": keep the longer forms too.
        return kept | {v for v in self.anywhere if any(_has_word(v, k) for k in kept if k != v)}

    def most_frequent(self, top: int = FREQUENT_TOP) -> list[tuple[str, int]]:
        """The `top` values held by the most examples (at least FREQUENT_MIN), as (spelling, examples)."""
        ranked = sorted(self.anywhere.items(), key=lambda kv: (-kv[1], kv[0]))
        return [(self.forms.get(v, v), n) for v, n in ranked[:top] if n >= FREQUENT_MIN]


def _has_word(value: str, part: str) -> bool:
    return f" {part} " in f" {value} "


def name_counts(
    texts: Sequence[str],
    spans: Sequence[Sequence[Span]],
    owners: Sequence[int],
    system: Sequence[bool] | None = None,
    entities: Sequence[str] = ("PERSON",),
) -> NameCounts:
    """Count, over examples, the values of `entities` found anywhere; `owners[i]` is the example text i belongs to
    and `system[i]` whether it is that example's system prompt. A shared text counts once per example holding it."""
    values = {
        normalize_value(t[s.start : s.end])
        for t, f in zip(texts, spans, strict=True)
        for s in f
        if s.entity in entities
    }
    anywhere: dict[str, set[int]] = {v: set() for v in values}
    in_system: dict[str, set[int]] = {v: set() for v in values}
    pattern = whole_words(values)
    spellings: dict[str, Counter[str]] = {v: Counter() for v in values}
    hits_of: dict[str, set[str]] = {}
    flags = system if system is not None else [False] * len(texts)
    for text, found, owner, is_system in zip(texts, spans, owners, flags, strict=True):
        hits = hits_of.get(text)
        if hits is None:
            hits = set()
            for m in pattern.finditer(text) if pattern else ():
                hits.add(normalize_value(m.group()))
                spellings[normalize_value(m.group())][" ".join(m.group().split())] += 1
            hits |= {normalize_value(text[s.start : s.end]) for s in found if s.entity in entities}
            # A longer form ("marlowe logistics") holds its parts ("marlowe") that were found elsewhere.
            hits |= {part for h in hits if " " in h for part in _parts(h) if part in anywhere}
            hits_of[text] = hits
        for v in hits:
            if v in anywhere:
                anywhere[v].add(owner)
                if is_system:
                    in_system[v].add(owner)
    return NameCounts(
        examples=len(set(owners)),
        anywhere={v: len(ex) for v, ex in anywhere.items()},
        in_system={v: len(ex) for v, ex in in_system.items() if ex},
        forms={v: c.most_common(1)[0][0] for v, c in spellings.items() if c},
    )


def kept_values(
    flat: Texts, spans: Sequence[Sequence[Span]], *, names: bool, contacts: bool
) -> tuple[NameCounts, set[str], list[str]]:
    """The PERSON counts, and the values kept as the deployer's own (normalised, and as spelt in the data):
    recurring names when `names`; when `contacts`, the phone numbers and e-mail addresses that recur in what the
    deployer wrote (system prompts and answers). A number that users type in ten conversations is still theirs."""
    people = name_counts(flat.texts, spans, flat.owners, flat.system)
    kept = people.recurring() if names else set()
    forms = {v: people.forms.get(v, v) for v in kept}
    if contacts:
        ours = [i for i, d in enumerate(flat.deployer) if d]
        numbers = name_counts(
            [flat.texts[i] for i in ours],
            [spans[i] for i in ours],
            [flat.owners[i] for i in ours],
            [flat.system[i] for i in ours],
            CONTACT_ENTITIES,
        )
        forms |= {v: numbers.forms.get(v, v) for v in numbers.recurring()}
    return people, set(forms), sorted(forms.values())


def _parts(value: str) -> set[str]:
    words = value.split()
    return {" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1)} - {value}


def without(texts: Sequence[str], spans: Sequence[Sequence[Span]], values: set[str]) -> list[list[Span]]:
    return [
        [s for s in found if normalize_value(t[s.start : s.end]) not in values]
        for t, found in zip(texts, spans, strict=True)
    ]
