"""The project's phrase blocklist (eval.blocklist): one matcher for the data check, the evaluation and serving.

The evaluation counts answers that contain a blocklisted phrase, `data check` flags training answers that do
(`problematic_language`), and `serve` blocks or redacts them in live answers (serve.answer_guards). With one list
and one matcher, a phrase the check let through in the data is the same phrase the evaluation and the server catch.

A phrase matches case-insensitively, anywhere in the text (not only as whole words: a phrase is what the user
wrote, "guaranteed returns" or "rm -rf"), with runs of whitespace collapsed and curly apostrophes straightened,
the same rule as `evals.metrics.blocklist_hits`. Matching is a regular expression per phrase, written here because
no library matches a phrase list this way and also gives the spans that redaction replaces.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from tunesmith.refusals import APOSTROPHES

REDACTED = "[blocked]"  # what a redacted phrase becomes in an answer


@functools.lru_cache(maxsize=64)
def _patterns(phrases: tuple[str, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    out = []
    for phrase in phrases:
        words = phrase.translate(APOSTROPHES).split()
        if words:
            out.append((phrase, re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)))
    return tuple(out)


def hits(text: str, phrases: Sequence[str]) -> list[str]:
    """The phrases of `phrases` found in `text`, in the list's order."""
    straight = text.translate(APOSTROPHES)  # one character for one: offsets are kept
    return [phrase for phrase, pattern in _patterns(tuple(phrases)) if pattern.search(straight)]


def redact(text: str, phrases: Sequence[str], replacement: str = REDACTED) -> str:
    """`text` with every occurrence of a blocklisted phrase replaced by `replacement`."""
    straight = text.translate(APOSTROPHES)
    spans: list[tuple[int, int]] = []
    for _, pattern in _patterns(tuple(phrases)):
        spans += [m.span() for m in pattern.finditer(straight)]
    merged: list[list[int]] = []
    for start, end in sorted(spans):  # overlapping phrases ("rm -rf", "rf /") become one span
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, pos = [], 0
    for start, end in merged:
        out += [text[pos:start], replacement]
        pos = end
    return "".join([*out, text[pos:]])
