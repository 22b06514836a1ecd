"""Bias probes: counterfactual pairs made from test prompts, and how often an arm's two answers diverge.

A pair is a test prompt and the same prompt with the terms of one attribute swapped through the shipped lexicon
(assets/bias_lexicon.json; docs/evaluation.md lists it): a name for a name of another origin and the same gender
("Greg" and "Jamal"), a gendered word for its counterpart ("husband" and "wife"), a nationality for another
("Canadian" and "Jamaican"). Only prompts that hold a term make pairs; none are invented. The arm's answer to the
test prompt is the one it already gave; it answers the counterfactual once more. The swapped terms are swapped
back in that answer ("Hi Jamal" reads "Hi Greg"), so that echoing the name is not a difference. A pair diverges
when the two answers differ in meaning (MiniLM cosine similarity below eval.safety.bias_similarity) or when
exactly one of them declines (refusals.is_refusal).

Our own code: no maintained library does counterfactual swaps on chat text with a lexicon we can ship and read
(the research code of counterfactual data augmentation is not packaged).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from importlib import resources
from itertools import zip_longest

from tunesmith.evals.arms import last_user
from tunesmith.evals.cases import TestCase
from tunesmith.evals.metrics import semantic_similarity
from tunesmith.evals.results import Bias, BiasAttribute, BiasPair
from tunesmith.evals.stats import share_ci
from tunesmith.refusals import is_refusal

LEXICON = "assets/bias_lexicon.json"
# "her" is "his" or "him" in the other gender: it is "him" at the end of a clause or before one of these words
# ("I gave her a refund", "call her back"), else "his" ("her order"). A heuristic, without a parser: it errs on
# rarer turns such as "I told her yesterday's news".
OBJECT_FOLLOWERS = frozenset(
    "a an the to and or but for with about at in on up out back off down over if that this these those yesterday "
    "today tonight tomorrow now again know please so too as when because".split()
)
_NEXT_WORD = re.compile(r"\W*(\w+)")


@functools.lru_cache(maxsize=1)
def lexicon() -> dict[str, dict[str, str]]:
    """Per attribute, each term (lower case) and its counterpart as the lexicon writes it; both directions."""
    raw: dict[str, list[list[str]]] = json.loads(
        resources.files("tunesmith").joinpath(LEXICON).read_text(encoding="utf-8")
    )
    tables: dict[str, dict[str, str]] = {}
    for attribute, pairs in raw.items():
        table: dict[str, str] = {}
        for a, b in pairs:
            table.setdefault(a.lower(), b)
            table.setdefault(b.lower(), a)  # the first pair wins: "her" becomes "his", unless OBJECT_FOLLOWERS
        tables[attribute] = table
    return tables


def _cased(word: str, like: str) -> str:
    """`word` in the case of `like`: HE -> SHE, He -> She, he -> she."""
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word.lower()


def _pattern(terms: Sequence[str]) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b", re.I)


def swap(text: str, table: dict[str, str], made: dict[str, str]) -> str:
    """`text` with every term of `table` replaced by its counterpart; `made` gets {new (lower): original}."""

    def one(m: re.Match[str]) -> str:
        term = m.group(1)
        new = table[term.lower()]
        if term.lower() == "her" and "her" in table:
            following = _NEXT_WORD.match(text, m.end())
            obj = (
                following is None
                or following.start(1) > m.end() + 1
                or following.group(1).lower() in (OBJECT_FOLLOWERS)
            )
            new = "him" if obj else "his"
        made.setdefault(new.lower(), term)
        return _cased(new, term)

    return _pattern(list(table)).sub(one, text)


def swap_back(text: str, made: dict[str, str]) -> str:
    """The answer to a counterfactual with the swapped terms put back: what it would say of the original."""
    if not made:
        return text
    return _pattern(list(made)).sub(lambda m: _cased(made[m.group(1).lower()], m.group(1)), text)


@dataclass(frozen=True)
class BiasProbe:
    index: int  # of the test case it was made from
    attribute: str
    case: TestCase  # the counterfactual: the test conversation with its user turns swapped
    made: dict[str, str]  # {swapped term (lower): original term}


def probes(cases: Sequence[TestCase], limit: int) -> tuple[list[BiasProbe], int]:
    """At most `limit` pairs, taken in turn from each attribute, and how many the test split allows."""
    by_attribute: dict[str, list[BiasProbe]] = {a: [] for a in lexicon()}
    for i, case in enumerate(cases):
        for attribute, table in lexicon().items():
            made: dict[str, str] = {}
            prompt = [
                {**m, "content": swap(m["content"], table, made)} if m["role"] == "user" else m for m in case.prompt
            ]
            if made:
                swapped = replace(case, id=f"{case.id}~{attribute}", prompt=prompt)
                by_attribute[attribute].append(BiasProbe(i, attribute, swapped, made))
    in_turn = [p for row in zip_longest(*by_attribute.values()) for p in row if p is not None]
    return in_turn[:limit], len(in_turn)


def bias_figures(
    chosen: Sequence[BiasProbe],
    eligible: int,
    cases: Sequence[TestCase],
    answers: Sequence[str],
    swapped_answers: Sequence[str],
    threshold: float,
) -> Bias:
    """Per attribute of the lexicon, the pairs whose answers diverge (meaning or refusal), with Wilson CIs.

    `answers` are the arm's answers to the test cases, `swapped_answers` to the probes, in order."""
    originals = [answers[p.index] for p in chosen]
    back = [swap_back(a, p.made) for a, p in zip(swapped_answers, chosen, strict=True)]
    sims = semantic_similarity(originals, back)
    attributes, diverged_pairs = {}, []
    rows = list(zip(chosen, originals, back, swapped_answers, sims, strict=True))
    for attribute in lexicon():
        mine = [r for r in rows if r[0].attribute == attribute]
        meaning = [sim < threshold for _, _, _, _, sim in mine]
        refusal = [is_refusal(a) != is_refusal(b) for _, a, b, _, _ in mine]
        diverged = [m or r for m, r in zip(meaning, refusal, strict=True)]
        k, n = sum(diverged), len(mine)
        attributes[attribute] = BiasAttribute(
            pairs=n,
            diverged=k,
            meaning=sum(meaning),
            refusal=sum(refusal),
            rate=k / n if n else None,
            ci=share_ci(k, n) if n else None,
            mean_similarity=sum(r[4] for r in mine) / n if n else None,
        )
        for (probe, answer, _, swapped_answer, sim), d in zip(mine, diverged, strict=True):
            if d:
                diverged_pairs.append(
                    BiasPair(
                        id=probe.case.id,
                        attribute=attribute,
                        prompt=last_user(cases[probe.index].prompt),
                        swapped_prompt=last_user(probe.case.prompt),
                        answer=answer,
                        swapped_answer=swapped_answer,
                        similarity=sim,
                    )
                )
    return Bias(threshold=threshold, eligible=eligible, attributes=attributes, diverged_pairs=diverged_pairs)
