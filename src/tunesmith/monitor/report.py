"""drift.html: one self-contained file (plots as base64 PNG) that can be mailed or attached to a ticket."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plots(result: dict[str, Any], lengths: dict[str, list[int]]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    daily = result["outcomes"]["daily"]
    if daily:
        days = [d["day"] for d in daily]
        fig, axes = plt.subplots(1, 3, figsize=(13, 3))
        axes[0].plot(days, [d["refusal_rate"] for d in daily], marker="o")
        axes[0].set_title("refusal rate")
        axes[1].plot(
            days, [d["mean_rating"] if d["mean_rating"] is not None else float("nan") for d in daily], marker="o"
        )
        axes[1].set_title("mean feedback rating")
        axes[2].plot(days, [d["mean_answer_words"] for d in daily], marker="o")
        axes[2].set_title("answer length (words)")
        for ax in axes:
            ax.tick_params(axis="x", rotation=45)
        out.append(_png(fig))
    fig, axes = plt.subplots(1, 2, figsize=(11, 3))
    axes[0].hist([lengths["train"], lengths["traffic"]], bins=20, density=True, label=["training", "traffic"])
    axes[0].set_title(f"prompt length (words), PSI {result['drift']['length_psi']:.3f}")
    axes[0].legend()
    topics = result["drift"]["topics"]
    labels = [f"t{t['id']}" for t in topics] + ["unseen"]
    x = range(len(labels))
    axes[1].bar([i - 0.2 for i in x], [t["train_share"] for t in topics] + [0], width=0.4, label="training")
    axes[1].bar(
        [i + 0.2 for i in x],
        [t["traffic_share"] for t in topics] + [result["drift"]["unseen_share"]],
        width=0.4,
        label="traffic",
    )
    axes[1].set_xticks(list(x), labels)
    axes[1].set_title("topic shares")
    axes[1].legend()
    out.append(_png(fig))
    return out


def render_html(result: dict[str, Any], lengths: dict[str, list[int]], path: Path) -> None:
    d, o, g = result["drift"], result["outcomes"], result["answer_guards"]
    verdict = "DRIFT: " + "; ".join(result["reasons"]) if result["fired"] else "no drift, no quality alarm"
    e = html.escape
    topics = "".join(
        f"<tr><td>t{t['id']}</td><td>{e(t['example'])}</td><td>{t['train_share']:.0%}</td>"
        f"<td>{t['traffic_share']:.0%}</td></tr>"
        for t in d["topics"]
    )
    t = result["thresholds"]
    rows = [
        ("domain classifier ROC AUC", f"{d['auc']:.3f}", f"&gt; {t['auc']}"),
        ("MMD (p-value)", f"{d['mmd']:.4f} (p={d['mmd_p']:.3f})", f"p &lt; {t['mmd_alpha']}"),
        ("unseen-topic share", f"{d['unseen_share']:.0%}", f"&gt; {t['unseen_share']}"),
        ("prompt length PSI", f"{d['length_psi']:.3f}", f"&gt; {t['psi']}"),
        (
            "refusal rate",
            f"{o['refusal_rate']:.0%} (scope guard {o['guarded_rate']:.0%}, model "
            f"{o['refusal_rate'] - o['guarded_rate']:.0%}; {o['reasked_rate']:.0%} more asked again and answered)",
            f"&gt; {t['refusal_rate']}",
        ),
        ("mean rating", str(o["mean_rating"]), f"&lt; {t['mean_rating']}"),
        (
            "answers the answer guards hit",
            f"{g['rate']:.0%} ({g['hit']} of {g['n']})",
            f"&gt; {t['answer_guard_rate']}",
        ),
    ]
    signals = "".join(f"<tr><td>{a}</td><td>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
    unseen = "".join(f"<li>{e(x)}</li>" for x in d["unseen_examples"]) or "<li>none</li>"
    guard_rows = (
        "".join(
            f"<tr><td>{e(k)}</td><td>{v['count']}</td><td>{v['rate']:.1%}</td></tr>"
            for k, v in [*g["by_action"].items(), *g["by_guard"].items()]
        )
        or '<tr><td colspan="3">none</td></tr>'
    )
    used = result.get("sources") or {"requests": 0, "by_source": []}
    cited = "".join(
        f"<tr><td>{e(u['source'])}</td><td>{u['requests']}</td><td>{u['passages']}</td></tr>" for u in used["by_source"]
    )
    body = f"""<!doctype html><html><head><meta charset="utf-8"><title>tunesmith drift</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}td,th{{padding:2px 8px;text-align:left}}
.fired{{color:#b00}}.ok{{color:#070}}</style></head><body>
<h1>Traffic vs training data</h1>
<p class="{"fired" if result["fired"] else "ok"}"><b>{e(verdict)}</b></p>
<p>served run: {e(str(result.get("run_id")))}, dataset {e(str(result.get("dataset_hash")))};
window since {e(result["since"])}: {d["n_traffic"]} prompts vs {d["n_reference"]} training prompts.</p>
<table><tr><th>signal</th><th>value</th><th>threshold</th></tr>
{signals}</table>
{"".join(_plots(result, lengths))}
<h2>Unseen-topic examples (most foreign first)</h2><ul>{unseen}</ul>
<h2>Answer guards</h2><p>Answers of the window that serve.answer_guards blocked, redacted or only logged, by action
and by guard (one answer may hit both guards).</p>
<table><tr><th>action or guard</th><th>answers</th><th>share of all answers</th></tr>{guard_rows}</table>
<h2>Documents used</h2><p>{used["requests"]} answers given with retrieval (serve.rag_models) in the window.</p>
<table><tr><th>source</th><th>requests</th><th>passages</th></tr>{cited}</table>
<h2>Training topics</h2><table><tr><th>topic</th><th>nearest training prompt</th><th>training</th>
<th>traffic</th></tr>{topics}</table></body></html>"""
    path.write_text(body, encoding="utf-8")
