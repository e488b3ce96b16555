"""The migration journey on a live sandbox: discover → plan (dry-run) → review → approve →
backfill with progress → done, through the real app, gateway, migration core and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import col, func, select
from textual.message import Message

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world
from calsync_tui.messages import PlanReady, TaskFinished, TaskProgress
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.migration import MigrationScreen
from local_store.db import open_store
from local_store.models import MigrationState, Mutation
from tests.tui.conftest import SIZE

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def test_dry_run_review_approve_backfill(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=60, now=NOW) as demo:
        writes_before = demo.server.stats()["writes"]
        seen: list[Message] = []
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
            await pilot.press("m", "v")
            await app.workers.wait_for_complete()
            await pilot.press("p")
            await app.workers.wait_for_complete()
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, MigrationScreen)
            plan = screen.plan
            assert plan is not None and len(plan.lines) > 0
            assert any(isinstance(m, PlanReady) for m in seen)
            # The dry-run wrote nothing to Google.
            assert demo.server.stats()["writes"] == writes_before
            # Reviewing: the totals table lists each calendar, the writes table drills in.
            totals = screen.query_one("#plan-totals")
            assert totals.row_count == len(plan.totals)  # type: ignore[attr-defined]
            await pilot.press("y")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            assert any(str(len(plan.lines)) in line for line in app.screen.lines)
            await pilot.press("y")
            await pilot.pause()
            await app.workers.wait_for_complete()
            await pilot.pause()
            done = [m for m in seen if isinstance(m, TaskFinished) and m.task == "backfill"]
            assert done and done[-1].ok, [m.summary for m in done]
            progress = [m for m in seen if isinstance(m, TaskProgress) and m.task == "backfill"]
            last = progress[-1]
            assert last.total == len(plan.lines)
            assert last.done + last.failed == last.total
            assert last.done > 0
            assert screen.plan is None  # executed: nothing left to review
        assert demo.server.stats()["writes"] - writes_before >= last.done
        store = open_store(demo.home.db_path, demo.home.backups_dir)
        try:
            with store.session() as s:
                n_done = s.exec(
                    select(func.count())
                    .select_from(Mutation)
                    .where(col(Mutation.plan_id) == plan.plan_id)
                    .where(col(Mutation.status) == "done")
                ).one()
                state = s.get(MigrationState, 1)
        finally:
            store.close()
        assert n_done == last.done
        assert state is not None and state.phase == 2
