"""Answer guards (serve.answer_guards): the blocklist and the PII scan applied to each answer before it is sent.

The evaluation measures how often a model says a blocklisted phrase or leaks personal data; in production the
same checks can stop it: `block` sends serve.blocked_answer instead, `redact` replaces what was found, `log` sends
the answer as it is. Every hit, whatever the action, is recorded in the request log (`answer_guard`,
`answer_flags`) so that `tunesmith monitor` reports the rates.

The blocklist is eval.blocklist through the one matcher (tunesmith/blocklist.py); personal data is found by the
data stage's Presidio analyzer (data/pii.py) with data.pii_entities, and what prepare let through (data.pii_allow
and the names the dataset kept as the organisation's, data/redact.py) is not personal data here either: the
assistant saying its own name or the support line is not a leak.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tunesmith import blocklist as phrases
from tunesmith.config.serve import AnswerGuard, GuardAction
from tunesmith.data import pii

# When several guards hit one answer, the strongest action wins: a blocked answer is not also redacted.
STRENGTH: dict[str, int] = {"log": 0, "redact": 1, "block": 2}


@dataclass
class Guarded:
    """One answer after the guards: the text to send, the action taken (None: nothing found) and, per guard, what
    it found (blocklisted phrases; PII entity types, never the values)."""

    text: str
    action: GuardAction | None = None
    found: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class AnswerGuards:
    guards: dict[AnswerGuard, GuardAction]
    blocklist: list[str]
    blocked_answer: str
    pii_entities: list[str] | None = None
    pii_allow: list[str] = field(default_factory=list)

    def warm_up(self) -> None:
        """Build the analyzer (spaCy, seconds) now rather than on the first request."""
        if "pii" in self.guards:
            pii.scan(["warm-up"], entities=self.pii_entities, allow=self.pii_allow)

    def check(self, text: str) -> Guarded:
        found: dict[str, list[str]] = {}
        hits = phrases.hits(text, self.blocklist) if "blocklist" in self.guards else []
        if hits:
            found["blocklist"] = hits
        spans = pii.scan([text], entities=self.pii_entities, allow=self.pii_allow)[0] if "pii" in self.guards else []
        if spans:
            found["pii"] = sorted({s.entity for s in spans})
        if not found:
            return Guarded(text)
        action = max((a for g, a in self.guards.items() if g in found), key=STRENGTH.__getitem__)
        if action == "block":
            return Guarded(self.blocked_answer, action, found)
        if spans and self.guards.get("pii") == "redact":  # first: the spans' offsets are the original text's
            text = pii.splice(text, spans, lambda s, _v: f"<{s.entity}>")
        if hits and self.guards.get("blocklist") == "redact":
            text = phrases.redact(text, self.blocklist)
        return Guarded(text, action, found)


def combined(results: Sequence[Guarded]) -> tuple[GuardAction | None, dict[str, list[str]] | None]:
    """One request's record over its choices (n > 1): the strongest action and everything found."""
    hit = [r for r in results if r.action is not None]
    if not hit:
        return None, None
    found: dict[str, list[str]] = {}
    for r in hit:
        for guard, values in r.found.items():
            found[guard] = sorted({*found.get(guard, []), *values})
    return max((r.action for r in hit if r.action), key=STRENGTH.__getitem__), found
