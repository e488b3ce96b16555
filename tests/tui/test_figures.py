"""Issue 16 defect 6: one definition for each figure (README "Figures")."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from sqlmodel import col, select
from textual.widgets import Static

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.screens.events import EventsScreen
from calsync_tui.service import readmodel as rm
from calsync_tui.widgets.event_list import EventList
from local_store.db import open_store
from local_store.models import EventState, SyncRun
from tests.tui.dataset import FIXED_NOW


def _headline_after(home: AppHome, runs: list[SyncRun]) -> rm.Headline:
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            s.add_all(runs)
            s.commit()
            return rm.headline(s, FIXED_NOW)
    finally:
        store.close()


def test_a_paused_run_with_no_failure_keeps_the_success_rate_at_100(data_home: AppHome) -> None:
    at = FIXED_NOW - timedelta(minutes=1)
    runs = [
        SyncRun(
            kind="sync",
            started_at=at - timedelta(seconds=i),
            mutations_json=json.dumps({"insert": 5}),
            failed=0,
            success_rate=1.0,
            api_calls=5,
        )
        for i in range(1, 10)
    ]
    paused = SyncRun(  # stopped after 2 of 13 writes: 2 done, none failed
        kind="backfill",
        started_at=at,
        mutations_json=json.dumps({"stamp": 2}),
        failed=0,
        success_rate=2 / 13,
        api_calls=2,
    )
    head = _headline_after(data_home, [*runs, paused])
    assert head.success_rate == 1.0


def test_api_calls_per_hour_counts_every_run_of_the_hour(data_home: AppHome) -> None:
    at = FIXED_NOW - timedelta(minutes=30)
    runs = [
        SyncRun(kind="sync", started_at=at + timedelta(seconds=i), api_calls=10) for i in range(12)
    ]
    runs.append(SyncRun(kind="backfill", started_at=at - timedelta(minutes=1), api_calls=486))
    head = _headline_after(data_home, runs)
    assert head.api_calls_last_hour >= 12 * 10 + 486


def _delete_three_per_calendar(home: AppHome) -> None:
    """Mark three rows of every calendar `deleted` (gone from Google; history in the store)."""
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            per: dict[int, int] = {}
            for e in s.exec(select(EventState).order_by(col(EventState.start_utc))):
                if e.status != "deleted" and per.get(e.calendar_id, 0) < 3:
                    e.status = "deleted"
                    per[e.calendar_id] = per.get(e.calendar_id, 0) + 1
                    s.add(e)
            s.commit()
    finally:
        store.close()


async def test_events_header_counts_what_the_dashboard_counts_in_one_line_at_80x24(
    make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    """The Events header once said `302 events` where the dashboard and Accounts said 296
    (deleted rows counted), and at 80 columns it broke its `[ ]` hint over two lines."""
    _delete_three_per_calendar(data_home)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("e")
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        for _ in range(100):
            await pilot.pause(0.02)
            if screen.calendar_id is not None and screen.query_one(EventList).row_count:
                break
        store = open_store(data_home.db_path, data_home.backups_dir)
        try:
            with store.session() as s:
                row = next(r for r in rm.calendar_rows(s) if r.id == screen.calendar_id)
                rows = s.exec(select(EventState).where(EventState.calendar_id == row.id)).all()
        finally:
            store.close()
        live = [e for e in rows if e.status != "deleted"]
        assert len(live) < len(rows)  # the deleted rows exist: the test can fail
        assert row.total == len(live)
        title = screen.query_one("#events-title", Static)
        text = str(title.render())
        assert f" {row.total:,} events" in text
        assert f" {len(rows):,} events" not in text
        assert screen.query_one(EventList).row_count == len(live)
        assert "\n" not in text and len(text) <= 80
        assert title.region.height == 1
