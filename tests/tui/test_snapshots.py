"""Snapshots of every screen and modal in meaningful states, at 120x40 with a fixed clock.

Regenerate with `pytest tests/tui --snapshot-update`, then look at the SVGs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import col, select
from textual.pilot import Pilot

from calsync_tui.app import CalsyncApp
from calsync_tui.home import AppHome
from calsync_tui.messages import TaskProgress
from calsync_tui.migration.plan_file import MigrationPlan
from calsync_tui.migration.planner import PlannedWrite
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.service.plans import PlanView, plan_view
from local_store.db import open_store
from local_store.models import Calendar, EventState
from tests.tui.conftest import SIZE

Snap = Callable[..., bool]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()


def review_plan(home: AppHome) -> PlanView:
    """A plan derived from the data set: stamp sources and legacy blocks, delete orphans."""
    store = open_store(home.db_path, home.backups_dir)
    writes: list[PlannedWrite] = []
    try:
        with store.session() as s:
            names = {c.id: c.summary for c in s.exec(select(Calendar)).all()}
            rows = s.exec(
                select(EventState).order_by(col(EventState.calendar_id), col(EventState.start))
            ).all()
            for e in rows:
                op = {
                    "new_user_event": "stamp",
                    "legacy_busy_block": "stamp",
                    "orphaned_block": "delete",
                }.get(e.event_class)
                if op:
                    writes.append(
                        PlannedWrite(
                            seq=len(writes) + 1,
                            op=op,
                            calendar=names[e.calendar_id],
                            event_id=e.google_event_id,
                            correlation_id=e.correlation_id,
                            reason=e.event_class.replace("_", " "),
                            body=None
                            if op == "delete"
                            else {
                                "extendedProperties": {
                                    "private": {
                                        "calsync_id": e.correlation_id,
                                        "calsync_type": "busy_block"
                                        if e.event_class == "legacy_busy_block"
                                        else "user_event",
                                    }
                                }
                            },
                            before={
                                "summary": e.summary,
                                "start": {"date": e.start}
                                if e.all_day
                                else {"dateTime": e.start, "timeZone": e.time_zone or "UTC"},
                            },
                        )
                    )
    finally:
        store.close()
    plan = MigrationPlan(
        plan_id="7c1e0b52-5d7e-4b8e-9c61-2f4a3b9d0e11",
        kind="backfill",
        created_at="2026-03-02T09:00:00Z",
        scope=None,
        fingerprint="test",
        writes=writes,
        batch_size=50,
    )
    return plan_view(plan)


def test_dashboard_empty(snap_compare: Snap, tmp_path: Path) -> None:
    app = CalsyncApp(
        home=tmp_path / "empty",
        start_engine=False,
        clock=__import__("tests.tui.dataset", fromlist=["x"]).fixed_clock,
    )
    assert snap_compare(app, terminal_size=SIZE, run_before=_settle)


def test_dashboard_data(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=_settle)


def test_dashboard_light_theme(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["t"], terminal_size=SIZE, run_before=_settle)


def test_events(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["down", "enter"], terminal_size=SIZE, run_before=_settle)


def test_events_filtered(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    keys = ["e", "slash", *"legacy", "enter", "down"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE, run_before=_settle)


def test_lineage(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    keys = ["e", "slash", *"tracked", "enter", "enter"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE, run_before=_settle)


def test_migration_plan_review(
    snap_compare: Snap, make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    plan = review_plan(data_home)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, MigrationScreen)
        screen.show_plan(plan)
        await pilot.press("down")
        await _settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_migration_approve_modal(
    snap_compare: Snap, make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    plan = review_plan(data_home)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, MigrationScreen)
        screen.show_plan(plan)
        await pilot.press("y")
        await _settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_migration_backfill_in_progress(
    snap_compare: Snap, make_app: Callable[..., CalsyncApp], data_home: AppHome
) -> None:
    plan = review_plan(data_home)

    async def before(pilot: Pilot[Any]) -> None:
        await pilot.press("m")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, MigrationScreen)
        screen.show_plan(plan)
        screen.task_name = "backfill"
        screen.post_message(TaskProgress("backfill", 21, len(plan.lines), 8.4, 2.5))
        await _settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=before)


def test_rollback_confirmation(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["m", "1"], terminal_size=SIZE, run_before=_settle)


def test_activity(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["j"], terminal_size=SIZE, run_before=_settle)


def test_activity_filtered(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    keys = ["j", "slash", *"failed", "enter"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE, run_before=_settle)


def test_alerts(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["a"], terminal_size=SIZE, run_before=_settle)


def test_accounts_needs_signin(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(make_app(), press=["u"], terminal_size=SIZE, run_before=_settle)


def test_help(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    assert snap_compare(
        make_app(), press=["m", "question_mark"], terminal_size=SIZE, run_before=_settle
    )


def test_command_palette(snap_compare: Snap, make_app: Callable[..., CalsyncApp]) -> None:
    keys = ["ctrl+p", *"rollback"]
    assert snap_compare(make_app(), press=keys, terminal_size=SIZE, run_before=_settle)
