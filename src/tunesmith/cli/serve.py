"""`tunesmith serve` and `tunesmith monitor`: not built yet; they say so rather than pretend."""

from __future__ import annotations

from tunesmith.errors import TunesmithError


def serve() -> None:
    """Serve models behind an OpenAI-compatible API (not available in this version)."""
    raise TunesmithError(
        "`tunesmith serve` is not available in this version yet",
        hint="evaluate with `tunesmith eval`; serving is planned (see the roadmap in README.md)",
    )


def monitor() -> None:
    """Detect drift of live traffic against the training data (not available in this version)."""
    raise TunesmithError(
        "`tunesmith monitor` is not available in this version yet", hint="see the roadmap in README.md"
    )
