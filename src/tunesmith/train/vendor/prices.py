"""Published per-token training prices of the vendors, for the estimate printed before an upload.

USD per million billed training tokens (a vendor bills every token of every example once per epoch). Prices change:
the estimate says which row it used and the date below; check the vendor's page before a costly job.

- OpenAI: https://openai.com/api/pricing/ ("Fine-tuning", "Training" column), as listed when checked on
  2026-12-02: gpt-4o-mini $3.00 and gpt-4o $25.00 per 1M training tokens (also reported by third-party summaries
  the same month); the gpt-4.1 family and gpt-3.5-turbo rows are copied from the same page and were not
  cross-checked.
- Amazon Bedrock: https://aws.amazon.com/bedrock/pricing/ ("Model customization", price per 1,000 tokens trained,
  here times 1,000), as listed when checked on 2026-12-02; not cross-checked.
"""

from __future__ import annotations

PRICES_CHECKED = "2026-12-02"
PRICE_SOURCES = {
    "openai": "https://openai.com/api/pricing/",
    "bedrock": "https://aws.amazon.com/bedrock/pricing/",
}

# Longest prefix wins: a dated snapshot (gpt-4o-mini-2024-07-18) matches its family's row.
TRAINING_PRICE_PER_1M: dict[str, dict[str, float]] = {
    "openai": {
        "gpt-4o-mini": 3.00,
        "gpt-4o": 25.00,
        "gpt-4.1-nano": 1.50,
        "gpt-4.1-mini": 5.00,
        "gpt-4.1": 25.00,
        "gpt-3.5-turbo": 8.00,
    },
    "bedrock": {
        "amazon.nova-micro": 1.00,
        "amazon.nova-lite": 2.00,
        "amazon.nova-pro": 8.00,
        "anthropic.claude-3-haiku": 8.00,
    },
}


def training_price(backend: str, model: str) -> tuple[float | None, str | None]:
    """(USD per 1M training tokens, the row it came from), or (None, None) for a model not in the table."""
    rows = TRAINING_PRICE_PER_1M.get(backend, {})
    # Bedrock ids may carry a region prefix (us.amazon.nova-micro-v1:0) or be an ARN: match the model part.
    name = model.rsplit("/", 1)[-1]
    for prefix in ("us.", "eu.", "apac."):
        name = name.removeprefix(prefix)
    matches = [key for key in rows if name.startswith(key)]
    if not matches:
        return None, None
    key = max(matches, key=len)
    return rows[key], key
