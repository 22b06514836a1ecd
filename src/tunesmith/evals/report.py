"""The evaluation report: one self-contained HTML page, and a markdown summary for a pull request.

The page must open anywhere, offline and years later, so it has no external CSS, scripts or fonts, and its
plots are PNGs inlined as data URIs. Predictions are model output and may contain anything, so every piece of
text is HTML-escaped, and a Content-Security-Policy forbids scripts and fetches if an escape is missed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tunesmith.artifacts import write_text_atomic
from tunesmith.evals.metrics import METRICS
from tunesmith.evals.report_format import (
    arm_delta,
    arm_means,
    esc,
    fmt_ci,
    fmt_delta,
    latency_p50,
    lower_is_better,
    metric_label,
    tokens_per_request,
)
from tunesmith.evals.report_human import human_preference_section
from tunesmith.evals.report_migration import migration_section
from tunesmith.evals.report_plots import guard_plot, plots
from tunesmith.evals.report_safety import safety_section, safety_summary_lines
from tunesmith.evals.results import ArmAnswer, ArmResult, Delta, EvalResults, Example, Slice
from tunesmith.evals.stats import winner
from tunesmith.evals.verdict import verdict

EXAMPLES_PER_SIDE = 30  # largest gains and largest regressions shown in the example viewer
PREFERRED_COMPARISON_ARM = "fine_tuned"

_CSS = """
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg-alt: #f6f8fa;
        --good: #1a7f37; --bad: #cf222e; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff;
       font: 15px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 36px 0 12px; padding-bottom: 4px; border-bottom: 1px solid var(--line); font-size: 20px; }
.meta, .note, .desc { color: var(--muted); font-size: 13px; }
dl.lineage { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0 0;
             font-size: 13px; }
dl.lineage dt { color: var(--muted); }
dl.lineage dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 6px 10px; border: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--bg-alt); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr.reference td:first-child { font-weight: 600; }
.ci { color: var(--muted); }
#verdict { font-size: 17px; margin: 12px 0; padding: 8px 12px; border-left: 4px solid var(--line);
           background: var(--bg-alt); }
#verdict.paid-off { border-color: var(--good); }
#verdict.not-paid-off { border-color: var(--bad); }
.delta { font-size: 13px; white-space: nowrap; }
.better { color: var(--good); font-weight: 600; }
.worse { color: var(--bad); font-weight: 600; }
.star { color: #bf8700; }
td.best { font-weight: 600; }
.na { color: var(--muted); text-align: center; }
.scroll { overflow-x: auto; }
img.plot { display: block; max-width: 100%; height: auto; margin: 12px 0; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
details > summary { cursor: pointer; padding: 6px 10px; background: var(--bg-alt); }
details[open] > summary { border-bottom: 1px solid var(--line); }
.example { padding: 8px 12px; }
.example h4 { margin: 10px 0 4px; font-size: 13px; color: var(--muted); text-transform: uppercase; }
.example pre { margin: 0; padding: 8px; background: var(--bg-alt); border-radius: 4px; white-space: pre-wrap;
               overflow-wrap: anywhere; max-height: 24em; overflow-y: auto; }
.preds { display: grid; grid-template-columns: repeat(auto-fit, minmax(260px, 1fr)); gap: 10px; }
.tag { display: inline-block; padding: 0 6px; margin-left: 4px; border-radius: 10px; background: #ddf4ff;
       font-size: 12px; }
dl.defs dt { font-weight: 600; margin-top: 8px; }
dl.defs dd { margin: 0 0 0 16px; }
ol.sources { margin: 6px 0 0; padding-left: 22px; font-size: 12px; color: var(--muted); }
ol.sources cite { font-style: normal; font-weight: 600; }
ol.sources q { display: block; quotes: none; overflow-wrap: anywhere; max-height: 6em; overflow-y: auto; }
"""

# Defence in depth: even if some text escaped unescaped, the page could run no script and fetch nothing.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _delta_class(metric: str, delta: Delta) -> str:
    """Colour a delta only when its interval excludes 0, green or red in the metric's own direction."""
    lo, hi = delta.ci
    if lo <= 0 <= hi:
        return "delta"
    return "delta better" if (lo > 0) != lower_is_better(metric) else "delta worse"


def _comparison_arm(results: EvalResults) -> str | None:
    """The arm the example viewer compares with the reference: the fine-tune when there is one."""
    others = [arm for arm in results.arms if arm != results.reference_arm]
    if PREFERRED_COMPARISON_ARM in others:
        return PREFERRED_COMPARISON_ARM
    return others[0] if others else None


# --------------------------------------------------------------------------------------------------- sections


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _code(text: str) -> str:
    """Escaped text with its `commands` in <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def _verdict_html(results: EvalResults) -> str:
    """The first paragraph: the verdict in words, then what to try next."""
    v = verdict(results)
    css = "paid-off" if v.paid_off else "not-paid-off" if v.fine_tune and v.alternative else ""
    advice = "".join(f"<li>{_code(a)}</li>" for a in v.advice)
    return f'<p id="verdict" class="{css}">{_code(v.text)}</p>' + (
        f'<ul id="next-steps">{advice}</ul>' if advice else ""
    )


def _header(results: EvalResults) -> str:
    dataset = results.dataset
    meta = [
        f"created {esc(results.created_at)}",
        f"reference arm <code>{esc(results.reference_arm)}</code>",
        f"dataset <code>{esc(dataset.path)}</code> (sha256 <code>{esc(dataset.sha256[:12])}</code>, "
        f"{esc(dataset.n_test)} test examples)",
    ]
    lineage = "".join(f"<dt>{esc(key)}</dt><dd>{esc(_text(value))}</dd>" for key, value in results.lineage.items())
    head = f"<h1>{esc(results.title)}</h1>{_verdict_html(results)}"
    return head + f'<p class="meta">{" · ".join(meta)}</p>' + (f'<dl class="lineage">{lineage}</dl>' if lineage else "")


def _metric_cell(arm: ArmResult, metric: str, is_best: bool) -> str:
    if metric not in arm.metrics:
        return '<td class="na">—</td>'
    mean, (lo, hi) = arm.metrics[metric], arm.ci[metric]
    star = ' <span class="star" title="best arm on this metric">★</span>' if is_best else ""
    cell = f'{mean:.3f} <span class="ci">[{lo:.3f}, {hi:.3f}]</span>{star}'
    delta = arm_delta(arm, metric)
    if delta:
        cell += f'<div class="{_delta_class(metric, delta)}">Δ {esc(fmt_delta(delta))}</div>'
    return f'<td class="num" title="n = {esc(arm.n.get(metric, "?"))}">{cell}</td>'


def _cost_cells(arm: ArmResult) -> str:
    tokens, latency, rps = arm.tokens, arm.latency_ms, arm.throughput_rps
    cost, single = arm.cost_per_1k_requests, arm.single_request
    # tokens, batched latency, one request alone, throughput, cost
    cells: list[str | None] = [None, None, None, None, None if cost is None else f"{cost:,.4g}"]
    if tokens:
        tokens_cell = f"{tokens.per_request:,.0f} ({tokens.prompt_mean:,.0f} + {tokens.completion_mean:,.0f})"
        if tokens.extra_prompt_mean is not None:
            tokens_cell += f", {tokens.extra_prompt_mean:+,.0f} prompt vs plain"
        cells[0] = tokens_cell
    if latency:
        cells[1] = f"{latency.p50:,.0f} / {latency.p95:,.0f} ms"
    if single:
        cells[2] = f"{single.p50_ms:,.0f} ms (first token {single.first_token_p50_ms:,.0f} ms, n={single.n})"
    if rps is not None:
        cells[3] = f"{rps:.2f} req/s"
    return "".join('<td class="na">—</td>' if c is None else f'<td class="num">{esc(c)}</td>' for c in cells)


def _headline_table(results: EvalResults) -> str:
    arms, metrics, reference = results.arms, results.metrics, results.reference_arm
    best = {m: winner(arm_means(arms), m, lower_is_better(m)) for m in metrics}
    head = "".join(f"<th>{esc(metric_label(m))}</th>" for m in metrics)
    rows = []
    for name, arm in arms.items():
        label = f"{esc(name)}" + (' <span class="desc">(reference)</span>' if name == reference else "")
        if arm.description:
            label += f'<div class="desc">{esc(arm.description)}</div>'
        cells = "".join(_metric_cell(arm, m, best[m] == name) for m in metrics)
        css = ' class="reference"' if name == reference else ""
        rows.append(f"<tr{css}><td>{label}</td>{cells}{_cost_cells(arm)}</tr>")
    return (
        '<div class="scroll"><table id="headline"><thead><tr><th>Arm</th>'
        f"{head}<th>Tokens / request (prompt + completion)</th><th>Batched latency p50 / p95</th>"
        "<th>One request alone, p50</th><th>Throughput</th>"
        "<th>Cost / 1,000 requests</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="note">Mean [bootstrap CI]. Δ is the paired difference with the reference arm on the same '
        "examples; it is coloured when its interval excludes 0. ★ marks the best arm on each metric. "
        "Hover a cell for its number of examples.</p>"
    )


def _gates(results: EvalResults) -> str:
    """The gates the runner checked, so the page says whether CI passed."""
    items = []
    for gate in results.gates:
        verdict, css = ("passed", "better") if gate.passed else ("FAILED", "worse")
        items.append(
            f'<li><span class="{css}">{verdict}</span> <code>{esc(gate.gate)}</code> '
            f'<span class="ci">({gate.left:.4f} vs {gate.right:.4f})</span></li>'
        )
    return f"<h2>Quality gates</h2><ul>{''.join(items)}</ul>" if items else ""


def _forgetting(results: EvalResults) -> str:
    """Base vs fine-tuned perplexity on general text, when it was measured."""
    f = results.forgetting
    if not f:
        return ""
    verdict = (
        f'<span class="worse">flagged: perplexity rose {f.rise:+.1%}, above the {f.max_rise:.0%} limit</span>'
        if f.flagged
        else f'<span class="better">ok: perplexity changed {f.rise:+.1%} (limit {f.max_rise:.0%})</span>'
    )
    return (
        "<h2>Forgetting check</h2>"
        f'<p id="forgetting">Perplexity on a general-English sample: base {f.base_perplexity:.2f}, '
        f"fine-tuned {f.fine_tuned_perplexity:.2f}. {verdict}</p>"
    )


def _guard(results: EvalResults) -> str:
    """The guarded arm's threshold, where it came from, and the trade-off it sits on."""
    g = results.guard
    if g is None:
        return ""
    body = f'<p id="guard">{esc(g.note)}. On the test split it declined {g.declined} question(s) before the model.</p>'
    if g.threshold is not None and g.validation_curve:
        body += guard_plot(g)
    return "<h2>Scope guard</h2>" + body


def _fraction(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _preference(results: EvalResults) -> str:
    """A DPO run's reward accuracy and margin on held-out pairs, when the fine-tuned run is one."""
    p = results.preference
    if not p:
        return ""
    start = f" It started from the SFT run <code>{esc(p.init_from)}</code>" if p.init_from else ""
    versus = " (the sft arm above)." if p.init_from and "sft" in results.arms else "." if start else ""
    return (
        "<h2>Preference tuning</h2>"
        '<p class="note">The fine-tuned run is a DPO run. Reward accuracy: the share of pairs whose chosen answer '
        "the run scores above the rejected one, relative to its reference model; margin: the mean difference."
        f"{start}{versus}</p>"
        '<table id="preference"><thead><tr><th>pairs</th><th class="n">reward accuracy</th>'
        '<th class="n">margin</th></tr></thead><tbody>'
        f"<tr><td>test ({_fraction(p.test_pairs, ',d')} held-out pairs)</td>"
        f'<td class="n">{_fraction(p.test_reward_accuracy, ".2f")}</td>'
        f'<td class="n">{_fraction(p.test_reward_margin, ".3f")}</td></tr>'
        f'<tr><td>val</td><td class="n">{_fraction(p.eval_reward_accuracy, ".2f")}</td>'
        f'<td class="n">{_fraction(p.eval_reward_margin, ".3f")}</td></tr></tbody></table>'
    )


def _judge(results: EvalResults) -> str:
    """The LLM judge's pairwise win rates, when a judge ran."""
    j = results.judge
    if not j:
        return ""
    rows = []
    for dim, d in j.dimensions.items():
        win = "—" if d.win_rate is None or d.ci is None else fmt_ci(d.win_rate, d.ci)
        consistency = "—" if d.position_consistency is None else f"{d.position_consistency:.0%}"
        kappa = "—" if d.kappa is None else f"{d.kappa:.2f} (n={d.human_n})"
        rows.append(
            f"<tr><td>{esc(dim)}</td><td class='num'>{esc(win)}</td><td class='num'>{esc(consistency)}</td>"
            f"<td class='num'>{esc(kappa)}</td><td class='num'>{d.n} ({d.unparsed} unparsed)</td></tr>"
        )
    return (
        f"<h2>LLM judge</h2><p class='note'>{esc(j.arm)} against {esc(j.reference_arm)}, judged by "
        f"<code>{esc(j.model)}</code> in both orders; win = 1, tie = 0.5, loss = 0.</p>"
        '<table id="judge"><thead><tr><th>Dimension</th><th>Win rate [CI]</th><th>Same verdict in both orders'
        "</th><th>Cohen's κ vs humans</th><th>Examples</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _slice_rows(tag: str, per_arm: Slice, arms: Sequence[str], metrics: Sequence[str]) -> str:
    means = {arm: per_arm.means(arm) for arm in arms}
    best = {m: winner({a: {"metrics": means[a]} for a in arms}, m, lower_is_better(m)) for m in metrics}
    span = f'rowspan="{len(arms)}"'
    rows = []
    for k, arm in enumerate(arms):
        lead = f'<td {span}>{esc(tag)}</td><td class="num" {span}>{esc(per_arm.n)}</td>' if k == 0 else ""
        cells = "".join(
            f'<td class="num{" best" if best[m] == arm else ""}">{means[arm][m]:.3f}</td>'
            if m in means[arm]
            else '<td class="na">—</td>'
            for m in metrics
        )
        rows.append(f"<tr>{lead}<td>{esc(arm)}</td>{cells}</tr>")
    return "".join(rows)


def _slices_table(results: EvalResults) -> str:
    slices, metrics, arms = results.slices, results.metrics, list(results.arms)
    if not slices:
        return '<p class="note">No example carries a tag.</p>'
    rows = "".join(_slice_rows(tag, per_arm, arms, metrics) for tag, per_arm in slices.items())
    head = "".join(f"<th>{esc(metric_label(m))}</th>" for m in metrics)
    return (
        f'<div class="scroll"><table class="slices"><thead><tr><th>Tag</th><th>n</th><th>Arm</th>{head}</tr>'
        f"</thead><tbody>{rows}</tbody></table></div>"
        '<p class="note">Means over the examples with each tag; the best arm per tag is in bold. '
        "Small slices are noisy.</p>"
    )


def _citations(answer: ArmAnswer) -> str:
    """A rag answer's sources as numbered citations ("source, locator", its score, the passage), as its prompt
    numbered them; escaped like every other text, since documents are the user's and may hold anything."""
    if not answer.sources:
        return ""
    items = "".join(
        f"<li><cite>{esc(s.citation)}</cite> · {s.score:.3f}<q>{esc(s.text)}</q></li>" for s in answer.sources
    )
    return f'<ol class="sources" title="passages in the prompt">{items}</ol>'


def _example_details(example: Example, results: EvalResults, diff: float, gain: float) -> str:
    headline = results.headline_metric
    css = "better" if gain > 0 else "worse"
    tags = "".join(f'<span class="tag">{esc(t)}</span>' for t in example.tags)
    cards = []
    for name in results.arms:
        result = example.arms.get(name)
        if result is None:
            continue
        score = result.metrics.get(headline)
        score_text = f" · {headline} {score:.3f}" if score is not None else ""
        cards.append(
            f"<div><h4>{esc(name)}{esc(score_text)}</h4><pre>{esc(result.prediction)}</pre>{_citations(result)}</div>"
        )
    return (
        f'<details><summary><span class="delta {css}">Δ {esc(headline)} {diff:+.3f}</span> '
        f"<code>{esc(example.id)}</code>{tags}</summary>"
        f'<div class="example"><h4>Prompt</h4><pre>{esc(example.prompt)}</pre>'
        f"<h4>Reference</h4><pre>{esc(example.reference)}</pre>"
        f'<div class="preds">{"".join(cards)}</div></div></details>'
    )


def _score(example: Example, arm: str, metric: str) -> float | None:
    answer = example.arms.get(arm)
    return answer.metrics.get(metric) if answer else None


def _examples_section(results: EvalResults) -> str:
    """The examples where the compared arm moved most against the reference, worst first, then best first."""
    arm, reference, headline = _comparison_arm(results), results.reference_arm, results.headline_metric
    if arm is None:
        return '<p class="note">Only one arm: nothing to compare.</p>'
    sign = -1.0 if lower_is_better(headline) else 1.0
    moved = []
    for example in results.examples:
        ours, theirs = _score(example, arm, headline), _score(example, reference, headline)
        if ours is not None and theirs is not None and ours != theirs:
            moved.append((sign * (ours - theirs), ours - theirs, example))
    moved.sort(key=lambda item: item[0])
    regressions = [m for m in moved if m[0] < 0][:EXAMPLES_PER_SIDE]
    gains = [m for m in reversed(moved) if m[0] > 0][:EXAMPLES_PER_SIDE]
    intro = (
        f'<p class="note"><code>{esc(arm)}</code> against <code>{esc(reference)}</code> on {esc(headline)}: '
        f"the {EXAMPLES_PER_SIDE} largest regressions and gains at most. Click an example to open it.</p>"
    )
    parts = [intro]
    for title, items in (
        (f"Largest regressions ({len(regressions)})", regressions),
        (f"Largest gains ({len(gains)})", gains),
    ):
        body = "".join(_example_details(ex, results, diff, gain) for gain, diff, ex in items)
        parts.append(f"<h3>{esc(title)}</h3>" + (body or '<p class="note">None.</p>'))
    return "".join(parts)


def _definitions(results: EvalResults) -> str:
    items = []
    for metric in results.metrics:
        info = METRICS.get(metric)
        definition = info.definition if info else "A custom metric; tunesmith has no definition for it."
        items.append(f"<dt>{esc(metric_label(metric))}</dt><dd>{esc(definition)}</dd>")
    return f'<dl class="defs">{"".join(items)}</dl>'


def render_report(results: EvalResults | Mapping[str, Any], out_path: Path) -> None:
    """Write the HTML report for `results` (the model, or the JSON of a results.json) to `out_path`, atomically."""
    results = EvalResults.of(results)
    sections = [
        _header(results),
        "<h2>Headline</h2>" + _headline_table(results),
        _gates(results),
        "<h2>Plots</h2>" + plots(results),
        _forgetting(results),
        _guard(results),
        safety_section(results),
        _preference(results),
        _judge(results),
        human_preference_section(results),
        migration_section(results),
        "<h2>By tag</h2>" + _slices_table(results),
        "<h2>Examples</h2>" + _examples_section(results),
        "<h2>Metric definitions</h2>" + _definitions(results),
    ]
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(results.title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )
    write_text_atomic(out_path, page)


# ------------------------------------------------------------------------------------------------- markdown


def _md(text: str) -> str:
    """Keep a '|' in a name from splitting a markdown table cell."""
    return text.replace("|", r"\|")


def _or_dash(value: float | None, spec: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{spec}}{unit}"


def render_summary_md(results: EvalResults | Mapping[str, Any]) -> str:
    """A few lines for a pull-request comment: the headline metric, its delta, and what each arm costs."""
    results = EvalResults.of(results)
    arms, reference, headline = results.arms, results.reference_arm, results.headline_metric
    best = winner(arm_means(arms), headline, lower_is_better(headline))
    v = verdict(results)
    lines = [f"### {results.title}", "", v.text, *([""] + [f"- Next: {a}" for a in v.advice] if v.advice else [])]
    lines += [
        "",
        f"| Arm | {_md(metric_label(headline))} [CI] | Δ vs {_md(reference)} [CI] | Tokens / request | p50 latency |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, arm in arms.items():
        label = _md(name) + (" (reference)" if name == reference else "") + (" ★" if name == best else "")
        score = fmt_ci(arm.metrics[headline], arm.ci[headline]) if headline in arm.metrics else "—"
        delta = arm_delta(arm, headline)
        tokens, p50 = _or_dash(tokens_per_request(arm), ",.0f"), _or_dash(latency_p50(arm), ",.0f", " ms")
        lines.append(f"| {label} | {score} | {fmt_delta(delta) if delta else '—'} | {tokens} | {p50} |")
    if results.gates:
        lines.append("")
    for gate in results.gates:
        mark = "✅ passed" if gate.passed else "❌ FAILED"
        lines.append(f"- {mark}: `{gate.gate}` ({gate.left:.4f} vs {gate.right:.4f})")
    forgetting = results.forgetting
    if forgetting:
        flag = "⚠️ forgetting flagged" if forgetting.flagged else "no forgetting flagged"
        lines += ["", f"- {flag}: general-text perplexity {forgetting.rise:+.1%} vs base."]
    if results.guard is not None:
        lines += ["", f"- scope guard (the guarded arm): {results.guard.note}."]
    if safety := safety_summary_lines(results):
        lines += ["", *safety]
    pref = results.preference
    if pref and pref.test_reward_accuracy is not None:
        lines += [
            "",
            f"- DPO run: reward accuracy {pref.test_reward_accuracy:.2f} on {pref.test_pairs} held-out pairs"
            + (f", margin {pref.test_reward_margin:.3f}." if pref.test_reward_margin is not None else "."),
        ]
    dataset = results.dataset
    lines += ["", f"_{dataset.n_test} held-out examples; dataset sha256 `{dataset.sha256[:12]}`._"]
    return "\n".join(lines) + "\n"
