"""The ui section: where `tunesmith ui` listens."""

from __future__ import annotations

from pydantic import Field

from tunesmith.config.base import Section


class UiConfig(Section):
    host: str = Field("127.0.0.1", description="`tunesmith ui` bind address; loopback unless you say otherwise.")
    port: int = Field(8080, gt=0, lt=65536, description="`tunesmith ui` port.")
