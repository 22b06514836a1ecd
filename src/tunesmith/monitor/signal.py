"""What drift and outcome checks share: a check fires when it has a reason to, and its JSON carries both, so the
monitor report and the dashboard read the verdict instead of recomputing it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar


@dataclass
class Signal:
    _not_in_json: ClassVar[tuple[str, ...]] = ()  # per-row detail too bulky for the report

    def reasons(self) -> list[str]:
        raise NotImplementedError

    @property
    def fired(self) -> bool:
        return bool(self.reasons())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for key in self._not_in_json:
            data.pop(key)
        return {**data, "fired": self.fired, "reasons": self.reasons()}
