"""Pytest fixtures (`sandbox`, `demo_sandbox`), imported by tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from calsync_tui.sandbox.server import SandboxServer

DEMO_NOW = datetime(2026, 11, 25, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    """A started, empty sandbox (no users, no calendars); stopped after the test."""
    with SandboxServer(port=0) as srv:
        yield srv


@pytest.fixture
def demo_sandbox() -> Iterator[SandboxServer]:
    """The seeded demo world (seed 7, 400 events, now = 2026-11-25T09:00:00Z); `srv.demo_truth`."""
    from calsync_tui.sandbox.demo import build_demo

    with SandboxServer(port=0) as srv:
        build_demo(srv, seed=7, events=400, now=DEMO_NOW)
        yield srv
