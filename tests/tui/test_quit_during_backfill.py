"""Issue 16 defect 2: `q` during a backfill asks (stop after this batch / keep running in
the background / cancel) and says what it did, instead of a blank terminal. The backfill
is the real one, in its child process (`service.migrateproc`), over the sandbox."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from calsync_tui.errors import CalsyncError
from calsync_tui.locking import home_lock, lock_holder
from calsync_tui.screens.quit import QuitScreen
from tests.migration.conftest import Mess, mess
from tests.tui.migration_child import (
    PLAN_WRITES,
    SLOWER,
    approve,
    console,
    paused,
    reviewed_plan,
    statuses,
    until,
    wait_for_exit,
)

__all__ = ["mess"]  # the fixture


async def test_quit_asks_and_stop_after_this_batch_says_so(mess: Mess, tmp_path: Path) -> None:
    plan = reviewed_plan(mess, tmp_path, SLOWER)
    app = console(mess)
    async with app.run_test(size=(120, 40)) as pilot:
        await approve(app, pilot, plan)
        child = app.backend.task_child
        assert child is not None
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("c")  # cancel: still running, still here
        await pilot.pause()
        assert not isinstance(app.screen, QuitScreen) and app.migration_task == "backfill"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("s")
        await until(lambda: app.exit_note)
    assert app.exit_note is not None
    assert "the backfill stopped after its batch at " in app.exit_note
    assert f"/{PLAN_WRITES} (paused)" in app.exit_note and "space" in app.exit_note
    assert child.proc.poll() is not None  # the child ended before the console did
    home = app.home
    assert paused(home.db_path, home.backups_dir)
    left = statuses(home.db_path, home.backups_dir, plan.plan_id)
    assert left.get("pending", 0) > 0 and left.get("done", 0) > 0, left
    assert lock_holder(home) is None  # nobody holds the home after the console


async def test_quit_offers_no_background_in_the_demo(mess: Mess, tmp_path: Path) -> None:
    plan = reviewed_plan(mess, tmp_path, SLOWER)
    app = console(mess)
    app.background_reason = "the demo's Google sandbox lives in this process"
    async with app.run_test(size=(120, 40)) as pilot:
        await approve(app, pilot, plan)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        assert not app.screen.query("#quit-background")
        await pilot.press("b")  # refused, says why, dialog stays
        await pilot.pause()
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("s")
        await until(lambda: app.exit_note)
    assert app.exit_note and "stopped after its batch" in app.exit_note


async def test_keep_running_leaves_the_child_writing_under_the_lock(
    mess: Mess, tmp_path: Path
) -> None:
    plan = reviewed_plan(mess, tmp_path, SLOWER)
    app = console(mess)
    async with app.run_test(size=(120, 40)) as pilot:
        await approve(app, pilot, plan)
        child = app.backend.task_child
        assert child is not None
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("b")
        await until(lambda: app.exit_note)
    assert app.exit_note and "continues in the background" in app.exit_note
    assert app.background_pid == child.pid and f"pid {child.pid}" in app.exit_note
    home = app.home
    # The console is gone; its backfill is not: it holds the home, nobody else writes.
    assert child.proc.poll() is None, "the backfill ended with the console"
    holder = lock_holder(home)
    assert holder is not None and holder["pid"] == child.pid
    assert str(holder["purpose"]).startswith("migrate backfill")
    with pytest.raises(CalsyncError, match=f"pid {child.pid}"), home_lock(home, "sync"):
        pass
    code, out, _err = mess.cli("migrate", "status")
    assert code == 0 and f"(pid {child.pid})" in out, out
    mess.world.ctx.close()
    mess.sandbox.set_faults(None)  # let it finish quickly
    wait_for_exit(child.pid)
    assert statuses(home.db_path, home.backups_dir, plan.plan_id) == {"done": PLAN_WRITES}
    assert lock_holder(home) is None  # the lock went with the child
    log = app.backend.task_log.read_text()
    assert "Traceback" not in log, log
    assert f"calsync-tui: backfill: done {PLAN_WRITES}/{PLAN_WRITES}" in log, log
    assert os.getpid() != child.pid
