"""Defect 12 (issue 16): an all-day event on 11-26 was listed before 11-25 21:45.

All-day events were stored at UTC midnight, so on a calendar west of UTC they sorted
hours too early. Every list orders by `start_utc` (the index behind the event pages), so
the fix is the stored key: an all-day event begins at midnight in its calendar's zone.
Checked through the real engine over the sandbox, on sources and on the blocks the
executor writes, as the console's event page and the lineage reader list them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from calsync_tui import clock
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.service import readmodel as rm
from local_store.models import Calendar
from tests.engine.world import World

NY = "America/New_York"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as sb:
        w = World(sb, tmp_path, requests_per_minute=10_000)
        try:
            yield w
        finally:
            w.close()


def _local(day: date, hh: int, mm: int) -> dict[str, str]:
    at = datetime.combine(day, time(hh, mm), tzinfo=ZoneInfo(NY))
    return {"dateTime": at.isoformat(timespec="seconds"), "timeZone": NY}


def test_all_day_event_lists_after_the_evening_before(world: World) -> None:
    me = world.user("me@example.com")
    work = world.calendar(me, "Work", tz=NY)
    home = world.calendar(me, "Home", tz=NY)
    world.enable(work, home)
    day = (clock.now() + timedelta(days=3)).astimezone(ZoneInfo(NY)).date()
    before = day - timedelta(days=1)
    world.put(work, "Late call", start=_local(before, 21, 45), end=_local(before, 22, 30))
    world.put(
        work,
        "Offsite",
        start={"date": day.isoformat()},
        end={"date": (day + timedelta(days=1)).isoformat()},
    )
    world.put(work, "Breakfast", start=_local(day, 8, 0), end=_local(day, 9, 0))
    report = world.sync()
    assert not report.errors
    world.assert_ok()

    with world.ctx.store.session() as s:
        cals = {c.google_id: c for c in s.exec(select(Calendar)).all()}
        for google_id, want in (
            (work, ["Late call", "Offsite", "Breakfast"]),
            # the blocks the executor wrote (their rows from the insert and its answer)
            (home, ["🔒 Busy - Late call", "🔒 Busy - Offsite", "🔒 Busy - Breakfast"]),
        ):
            cal = cals[google_id]
            assert cal.id is not None
            page = rm.events_page(s, cal.id, "", 0, 50, cal.time_zone)
            titles = [r.summary for r in page if r.summary]
            assert [t.replace("🔒 ", "") for t in titles] == [t.replace("🔒 ", "") for t in want], (
                titles
            )
