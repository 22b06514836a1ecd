"""The report's "Migration" section: the student (`fine_tuned`) against the teacher it was distilled from (the
`endpoint` arm: the vendor model a user is leaving), issue 27.

Everything comes from what the evaluation already computed (results.json): the paired deltas of fine_tuned against
every other arm (`delta_vs`, a paired bootstrap over the same test questions), per tag a paired bootstrap of the
headline metric over the examples with that tag, and each arm's tokens, latency and price. A delta whose 95% interval
excludes 0 says better or worse; one that includes 0 says only that this test set shows no difference, which is not
proof that the two are equal: the interval's width says how large a difference could still hide.
"""

from __future__ import annotations

from tunesmith.evals.report_format import esc, fmt_delta, lower_is_better, metric_name
from tunesmith.evals.results import ArmResult, Delta, EvalResults
from tunesmith.evals.stats import paired_bootstrap_diff

STUDENT, TEACHER = "fine_tuned", "endpoint"
MIN_TAG_EXAMPLES = 5  # a tag with fewer shared examples gets no interval: a bootstrap over 2-4 values is noise


def reading(metric: str, delta: Delta) -> str:
    """'better', 'worse' or 'no difference shown', in the metric's own direction."""
    lo, hi = delta.ci
    if lo <= 0 <= hi:
        return "no difference shown"
    return "better" if (lo > 0) != lower_is_better(metric) else "worse"


def _metric_rows(student: ArmResult) -> str:
    deltas = (student.delta_vs or {}).get(TEACHER, {})
    return "".join(
        f"<tr><td>{esc(metric_name(m))}</td><td class='num'>{esc(fmt_delta(d))}</td><td>{esc(reading(m, d))}</td></tr>"
        for m, d in deltas.items()
    )


def tag_deltas(results: EvalResults, seed: int = 0) -> dict[str, tuple[int, Delta | None]]:
    """Per tag: how many test questions both arms answered, and the paired delta of the headline metric (student
    minus teacher) with its interval, None under MIN_TAG_EXAMPLES."""
    metric = results.headline_metric
    out: dict[str, tuple[int, Delta | None]] = {}
    for tag in sorted({t for ex in results.examples for t in ex.tags}):
        pairs = [
            (ex.arms[STUDENT].metrics[metric], ex.arms[TEACHER].metrics[metric])
            for ex in results.examples
            if tag in ex.tags
            and STUDENT in ex.arms
            and TEACHER in ex.arms
            and metric in ex.arms[STUDENT].metrics
            and metric in ex.arms[TEACHER].metrics
        ]
        if len(pairs) < MIN_TAG_EXAMPLES:
            out[tag] = (len(pairs), None)
            continue
        value, ci = paired_bootstrap_diff([a for a, _ in pairs], [b for _, b in pairs], seed=seed)
        out[tag] = (len(pairs), Delta(value=value, ci=ci))
    return out


def _tag_rows(results: EvalResults) -> str:
    metric = results.headline_metric
    rows = []
    for tag, (n, delta) in tag_deltas(results).items():
        if delta is None:
            rows.append(f"<tr><td>{esc(tag)}</td><td class='num'>{n}</td><td class='na'>—</td><td>too few</td></tr>")
        else:
            rows.append(
                f"<tr><td>{esc(tag)}</td><td class='num'>{n}</td><td class='num'>{esc(fmt_delta(delta))}</td>"
                f"<td>{esc(reading(metric, delta))}</td></tr>"
            )
    return "".join(rows)


def _cost(arm: ArmResult) -> str:
    parts = []
    if arm.tokens:
        parts.append(f"{arm.tokens.per_request:,.0f} tokens")
    if arm.cost_per_1k_requests is not None:
        parts.append(f"${arm.cost_per_1k_requests / 1000:.5f} per request")
    if arm.latency_ms:
        parts.append(f"p50 {arm.latency_ms.p50:,.0f} ms")
    return ", ".join(parts) or "not measured"


def migration_section(results: EvalResults) -> str:
    """The section, when the evaluation has both the student and the teacher; '' otherwise."""
    if STUDENT not in results.arms or TEACHER not in results.arms:
        return ""
    student, teacher = results.arms[STUDENT], results.arms[TEACHER]
    prices = (
        ""
        if student.cost_per_1k_requests is not None and teacher.cost_per_1k_requests is not None
        else (
            " Set eval.prices for both arms (the teacher's per-token prices, the student's machine per hour) to "
            "see the cost per request."
        )
    )
    return (
        "<h2>Migration: student against teacher</h2>"
        "<p class='note'>The fine-tune (<code>fine_tuned</code>, the student) against the model it replaces "
        "(<code>endpoint</code>, the teacher), paired over the same test questions with 95% bootstrap intervals. "
        "<em>No difference shown</em> means the interval includes 0: this test set cannot tell them apart, which is "
        "not proof they are equal.</p>"
        "<table id='migration'><thead><tr><th>Metric</th><th>Student − teacher [CI]</th><th>Student is</th></tr>"
        f"</thead><tbody>{_metric_rows(student)}</tbody></table>"
        f"<h3>By tag ({esc(metric_name(results.headline_metric))})</h3>"
        "<table id='migration-tags'><thead><tr><th>Tag</th><th>Questions</th><th>Student − teacher [CI]</th>"
        f"<th>Student is</th></tr></thead><tbody>{_tag_rows(results)}</tbody></table>"
        f"<p>Per request: student {esc(_cost(student))}; teacher {esc(_cost(teacher))}.{esc(prices)}</p>"
    )
