"""The docs section: the organisation's documents (PDF, DOCX, HTML, Markdown, text) that `tunesmith docs index` reads
into a passage index, and the bounds on that work."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class DocsConfig(Section):
    paths: list[str] = Field(
        default_factory=list,
        description="Documents to index: files or folders (read recursively), relative to tunesmith.yaml; .pdf, "
        ".docx, .html/.htm, .md/.markdown and .txt.",
    )
    chunk_tokens: int = Field(
        200,
        ge=20,
        le=2000,
        description="Token budget of a passage, counted as words x 1.3 (no model tokenizer); passages are cut along "
        "headings and pages first. 200 stays within the 256 word pieces the embedding model reads.",
    )
    max_file_bytes: int = Field(
        50_000_000,
        gt=0,
        description="A larger file is skipped with a too_large finding (bounds the work and the memory); a DOCX may "
        "unzip to at most 4x this.",
    )
    max_pages: int = Field(
        1000, gt=0, description="PDF pages read per file; the rest of a longer PDF is skipped with a finding."
    )
