"""The report's "Human preference" section: what people preferred in blind A/B, per pair of arms (evals/ab.py)."""

from __future__ import annotations

from tunesmith.evals.report_format import esc, fmt_ci
from tunesmith.evals.results import EvalResults, HumanPair


def _row(p: HumanPair) -> str:
    first, second = p.arms
    lo, hi = p.ci[first]
    strength = "preferred" if lo > 0.5 else "less preferred" if hi < 0.5 else "no clear preference"
    return (
        f"<tr><td>{esc(first)} vs {esc(second)}</td>"
        f"<td class='num'>{esc(fmt_ci(p.win_rate[first], p.ci[first]))}</td>"
        f"<td class='num'>{esc(fmt_ci(p.win_rate[second], p.ci[second]))}</td>"
        f"<td class='num'>{p.wins[first]} / {p.ties} / {p.wins[second]}</td>"
        f"<td class='num'>{p.items} ({p.judgments} judgments, {p.reviewers} reviewer(s))</td>"
        f"<td>{esc(first)}: {strength}</td></tr>"
    )


def human_preference_section(results: EvalResults) -> str:
    """Per pair of arms, each one's preference rate (ties half) with its 95% CI; empty without judgments."""
    h = results.human_preference
    if h is None:
        return ""
    stale = f" {h.stale} judgment(s) of answers this evaluation no longer holds are left out." if h.stale else ""
    rows = "".join(_row(p) for p in h.pairs) or "<tr><td colspan='6'>no judgment of these answers yet</td></tr>"
    return (
        "<h2>Human preference</h2>"
        f"<p class='note'>Blind A/B judgments by {h.reviewers} reviewer(s) (<code>tunesmith ui --review</code>, "
        "artifacts/review/ab.jsonl): which arm wrote which answer was hidden and the order shuffled. Preference "
        "rate: won 1, tie 0.5, lost 0, each question's reviewers averaged, with a 95% bootstrap CI over the "
        f"questions.{esc(stale)}</p>"
        '<table id="human-preference"><thead><tr><th>Pair</th><th>First arm preferred [CI]</th>'
        "<th>Second arm preferred [CI]</th><th>Wins / ties / losses</th><th>Questions</th><th>Reading</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>"
    )
