"""One project for every dashboard test of the session: the real tiny quickstart and what follows it
(tests/ui/project.py), built once, offline, under the network guard."""

from __future__ import annotations

import pytest

from tests.conftest import NetworkGuard
from tests.ui.project import build_project
from tunesmith.config import Config

N_REQUESTS = 100_000


@pytest.fixture(scope="session")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> Config:
    with NetworkGuard() as guard:
        project = build_project(tmp_path_factory.mktemp("ui") / "project", n_requests=N_REQUESTS)
    assert guard.attempts == [], f"building the project tried to reach the network: {guard.attempts}"
    return project
