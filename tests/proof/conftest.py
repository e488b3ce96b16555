"""Proof fixtures: the engine's `sb` (quota-free sandbox) and `world` (home + store + accounts),
reused as they are, plus `synced`: two calendars mirrored once, the baseline most proof
tests start from."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from calsync_tui.settings import save_settings
from tests.engine.conftest import sb, world
from tests.engine.world import World, when
from tests.migration.conftest import mess

__all__ = ["Synced", "mess", "sb", "synced", "world"]

ANN = "ann@example.com"


@dataclass
class Synced:
    world: World
    a: str  # ann's work calendar: the sources
    b: str  # ann's personal calendar: the blocks


@pytest.fixture
def synced(world: World) -> Synced:
    """Ann, calendars A (4 meetings) and B, enabled and mirrored once; settings saved so
    a CLI subprocess sees the same home; the in-process store is closed again."""
    world.user(ANN)
    a = world.calendar(ANN, "Work", cal_id=ANN)
    b = world.calendar(ANN, "Personal")
    for i in range(4):
        s, e = when(1 + i, hours=9 + i)
        world.put(a, f"Meeting {i}", start=s, end=e)
    world.enable(a, b)
    report = world.sync()
    assert report.failed == 0 and report.mutations == {"insert": 4, "stamp": 4}
    save_settings(world.home, world.settings)
    world.ctx.close()
    return Synced(world, a, b)
