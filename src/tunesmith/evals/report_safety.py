"""The report's "Safety" section (eval.safety): red-team decline per arm with counts, bias divergence per attribute,
answers with personal data per arm. Every answer shown is model output and escaped; personal data is shown
redacted."""

from __future__ import annotations

from tunesmith.evals.report_format import esc, fmt_ci
from tunesmith.evals.results import ArmResult, EvalResults

# A rate over fewer pairs than this is called out as too few to read: its 95% interval is wider than ±0.3.
FEW_PAIRS = 10


def _red_team(arms: dict[str, ArmResult]) -> str:
    rows, misses = [], []
    categories = list(dict.fromkeys(c for a in arms.values() if a.red_team for c in a.red_team.categories))
    for name, arm in arms.items():
        rt = arm.red_team
        if rt is None:
            continue
        per_category = "".join(
            f"<td class='num'>{rt.categories[c].declined}/{rt.categories[c].prompts}</td>"
            if c in rt.categories
            else "<td class='na'>—</td>"
            for c in categories
        )
        rows.append(
            f"<tr><td>{esc(name)}</td><td class='num'>{rt.declined}/{rt.prompts}</td>"
            f"<td class='num'>{esc(fmt_ci(rt.decline_rate, rt.ci))}</td>{per_category}</tr>"
        )
        for miss in rt.not_declined:
            misses.append(
                f"<details><summary><code>{esc(name)}</code> answered <code>{esc(miss.id)}</code> "
                f"({esc(miss.category)})</summary><div class='example'><h4>Prompt</h4><pre>{esc(miss.prompt)}</pre>"
                f"<h4>Answer</h4><pre>{esc(miss.answer)}</pre></div></details>"
            )
    if not rows:
        return ""
    head = "".join(f"<th>{esc(c)}</th>" for c in categories)
    return (
        "<h3>Red team: requests the assistant must decline</h3>"
        "<p class='note'>Harmful instructions, other customers' data, prompt injections and requests against the "
        "organisation's policies (the shipped suite and eval.safety.red_team_paths). Declined: the answer is a "
        "refusal by the refusal detector of the abstention metric; share with a Wilson 95% CI. Apart from "
        "abstention, which counts the test split's out-of-scope questions.</p>"
        f'<table id="red-team"><thead><tr><th>Arm</th><th>Declined</th><th>Share [CI]</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>" + "".join(misses)
    )


def _bias(arms: dict[str, ArmResult]) -> str:
    with_bias = {name: arm.bias for name, arm in arms.items() if arm.bias is not None}
    if not with_bias:
        return ""
    first = next(iter(with_bias.values()))
    used = sum(a.pairs for a in first.attributes.values())
    if first.eligible == 0:
        intro = (
            "No test prompt holds a name, gendered word or nationality of the lexicon: there is no counterfactual "
            "pair, and no bias figure. Add test questions that mention people to measure it."
        )
    else:
        few = f" Fewer than {FEW_PAIRS} pairs per attribute are too few to read." if used < FEW_PAIRS else ""
        intro = f"{first.eligible} pair(s) possible from the test split, {used} used.{few}"
    rows, diverged = [], []
    for name, bias in with_bias.items():
        for attribute, a in bias.attributes.items():
            rate = "—" if a.rate is None or a.ci is None else fmt_ci(a.rate, a.ci)
            sim = "—" if a.mean_similarity is None else f"{a.mean_similarity:.3f}"
            rows.append(
                f"<tr><td>{esc(name)}</td><td>{esc(attribute)}</td><td class='num'>{a.pairs}</td>"
                f"<td class='num'>{a.diverged} ({a.meaning} meaning, {a.refusal} refusal)</td>"
                f"<td class='num'>{esc(rate)}</td><td class='num'>{sim}</td></tr>"
            )
        for p in bias.diverged_pairs:
            diverged.append(
                f"<details><summary><code>{esc(name)}</code> diverged on <code>{esc(p.id)}</code> "
                f"({esc(p.attribute)}, similarity {p.similarity:.3f})</summary><div class='example'>"
                f"<h4>Prompt</h4><pre>{esc(p.prompt)}</pre><h4>Answer</h4><pre>{esc(p.answer)}</pre>"
                f"<h4>Counterfactual</h4><pre>{esc(p.swapped_prompt)}</pre>"
                f"<h4>Its answer</h4><pre>{esc(p.swapped_answer)}</pre></div></details>"
            )
    return (
        "<h3>Bias probes: counterfactual pairs</h3>"
        "<p class='note'>Test prompts with a name, a gendered word or a nationality swapped through the shipped "
        "lexicon. A pair diverges when the two answers differ in meaning (MiniLM similarity below "
        f"{first.threshold:.2f}, the counterfactual's swapped terms put back) or when exactly one declines. "
        f"{esc(intro)}</p>"
        '<table id="bias"><thead><tr><th>Arm</th><th>Attribute</th><th>Pairs</th><th>Diverged</th>'
        "<th>Rate [CI]</th><th>Mean similarity</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>" + "".join(diverged)
    )


def _pii(arms: dict[str, ArmResult]) -> str:
    rows, examples = [], []
    for name, arm in arms.items():
        p = arm.pii_in_answers
        if p is None:
            continue
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(p.entities.items())) or "—"
        css = "better" if p.with_pii == 0 else "worse"
        rows.append(
            f"<tr><td>{esc(name)}</td><td class='num'>{p.answers}</td>"
            f"<td class='num'><span class='{css}'>{p.with_pii}</span></td><td>{esc(kinds)}</td></tr>"
        )
        examples += [
            f"<li><code>{esc(name)}</code> · <code>{esc(e.id)}</code>: {esc(e.redacted)}</li>" for e in p.examples
        ]
    if not rows:
        return ""
    shown = f"<p class='note'>Examples, redacted:</p><ul id='pii-examples'>{''.join(examples)}</ul>" if examples else ""
    return (
        "<h3>Personal data in answers</h3>"
        "<p class='note'>Each arm's test and red-team answers scanned with the PII analyzer of data prepare "
        "(data.pii_entities; data.pii_allow and the names the dataset kept as the organisation's are not counted). "
        "0 is the goal.</p>"
        '<table id="pii-in-answers"><thead><tr><th>Arm</th><th>Answers</th><th>With personal data</th>'
        f"<th>By type</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{shown}"
    )


def safety_section(results: EvalResults) -> str:
    """The three safety tables; empty when eval.safety was off."""
    body = _red_team(results.arms) + _bias(results.arms) + _pii(results.arms)
    return f'<h2 id="safety">Safety</h2>{body}' if body else ""


def safety_summary_lines(results: EvalResults) -> list[str]:
    """The markdown summary's lines: red-team decline and answers with personal data, per arm."""
    arms = results.arms
    red = [f"{name} {a.red_team.declined}/{a.red_team.prompts}" for name, a in arms.items() if a.red_team]
    pii = [f"{name} {a.pii_in_answers.with_pii}" for name, a in arms.items() if a.pii_in_answers]
    lines = []
    if red:
        lines.append(f"- red-team prompts declined: {', '.join(red)}.")
    if pii:
        lines.append(f"- answers with personal data: {', '.join(pii)}.")
    return lines
