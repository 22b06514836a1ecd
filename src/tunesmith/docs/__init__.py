"""Documents: the organisation's handbooks, policies and help-centre articles as a passage index (docs/documents.md).

`build_index` reads docs.paths (PDF, DOCX, HTML, Markdown, text) into passages cut along headings and pages, applies
the data's PII policy, and writes `artifacts/docs/`; `load_index` and `ensure_index` give a `DocIndex` whose `search`
returns `Hit`s. The rag arms and `serve` retrieve from it.
"""

from tunesmith.docs.index import DocIndex, build_index, describe, ensure_index, load_index, stale_reason
from tunesmith.docs.passages import Hit, Passage

__all__ = ["DocIndex", "Hit", "Passage", "build_index", "describe", "ensure_index", "load_index", "stale_reason"]
