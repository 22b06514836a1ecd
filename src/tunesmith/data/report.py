"""`data check --report FILE.html`: every finding on one self-contained page.

Plain string building with html.escape: one table does not need a template engine as a dependency.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;width:100%}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    ".error{color:#b00}.warning{color:#a60}pre{background:#f6f6f6;padding:1em;overflow:auto}"
)


def write_html(report: Any, path: str | Path) -> None:
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(f.kind)}</td><td class='{e(f.severity)}'>{e(f.severity)}</td><td>{e(f.file or '')}</td>"
        f"<td>{e(', '.join(map(str, f.lines)))}</td><td>{e(f.entity or '')}</td><td>{e(f.message)}</td></tr>"
        for f in report.findings
    )
    page = (
        f"<!doctype html><meta charset='utf-8'><title>tunesmith data check</title><style>{STYLE}</style>"
        f"<h1>tunesmith data check</h1><p>{report.examples} valid examples; format {e(report.format)}; "
        f"{sum(f.severity == 'error' for f in report.findings)} error finding(s), "
        f"{sum(f.severity == 'warning' for f in report.findings)} warning finding(s).</p>"
        "<h2>Findings</h2><table><tr><th>kind</th><th>severity</th><th>file</th><th>lines</th><th>entity</th>"
        f"<th>message</th></tr>{rows}</table>"
        + "".join(f"<p><em>note: {e(n)}</em></p>" for n in report.notes)
        + f"<h2>Statistics</h2><pre>{e(json.dumps(report.stats, indent=2))}</pre>"
    )
    Path(path).write_text(page, encoding="utf-8")
