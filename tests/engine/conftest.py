"""Fixtures: a sandbox server in this process and a World (home, store, accounts) on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync_tui.sandbox.server import SandboxServer
from tests.engine.world import World


@pytest.fixture
def sb() -> Iterator[SandboxServer]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as server:
        yield server


@pytest.fixture
def world(sb: SandboxServer, tmp_path: Path) -> Iterator[World]:
    w = World(sb, tmp_path, requests_per_minute=10_000)
    try:
        yield w
    finally:
        w.close()
