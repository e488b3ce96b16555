"""The cockpit's backfill runs in a child process (`service.migrateproc`, the CLI's
`migrate backfill --progress-jsonl`): progress, rate and ETA reach the screen as the same
messages; space pauses it after its batch and resumes it; kill -9 of the child leaves an
interrupted plan the screen shows and space resumes. Real Pilot, sandbox over HTTP,
SQLite, processes."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

from textual.message import Message
from textual.widgets import ProgressBar

from calsync_tui.messages import TaskFinished, TaskProgress
from calsync_tui.service import migrateproc
from tests.migration.conftest import Mess, mess
from tests.tui.migration_child import (
    PLAN_WRITES,
    approve,
    console,
    paused,
    reviewed_plan,
    statuses,
    until,
)

__all__ = ["mess"]  # the fixture


def _finished(seen: list[Message], task: str) -> list[TaskFinished]:
    return [m for m in seen if isinstance(m, TaskFinished) and m.task == task]


async def test_space_pauses_the_child_after_its_batch_and_resumes_it(
    mess: Mess, tmp_path: Path
) -> None:
    plan = reviewed_plan(mess, tmp_path)
    seen: list[Message] = []
    app = console(mess)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        screen = await approve(app, pilot, plan)
        assert screen.query_one("#task-bar", ProgressBar).display
        child = app.backend.task_child
        assert isinstance(child, migrateproc.TaskChild)
        # a few batches: the moving rate needs two after its baseline for an ETA
        await until(lambda: app.migration_progress and app.migration_progress[0] >= 6)
        rate_text = str(screen.query_one("#task-rate").render())
        assert "writes/s" in rate_text and "ETA --:--" not in rate_text, rate_text
        await pilot.press("space")
        await until(lambda: _finished(seen, "backfill"))
        done = _finished(seen, "backfill")[-1]
        assert done.ok and done.summary.startswith("paused "), done.summary
        assert child.proc.poll() is not None  # the child stopped and ended
        assert paused(app.home.db_path, app.home.backups_dir)
        left = statuses(app.home.db_path, app.home.backups_dir, plan.plan_id)
        assert left.get("pending", 0) > 0, left
        # Progress came back as the same messages, batch by batch, with a moving rate.
        progress = [m for m in seen if isinstance(m, TaskProgress) and m.task == "backfill"]
        assert len(progress) >= 2 and {m.total for m in progress} == {PLAN_WRITES}
        assert [m.done for m in progress] == sorted(m.done for m in progress)
        assert any(m.rate > 0 and m.eta_s is not None for m in progress)
        mess.sandbox.set_faults(None)
        await pilot.press("space")  # resumes it, in a new child
        await until(lambda: _finished(seen, "resume"))
        resumed = _finished(seen, "resume")[-1]
        assert resumed.ok and resumed.summary.startswith(f"done {PLAN_WRITES}/{PLAN_WRITES}")
    assert statuses(app.home.db_path, app.home.backups_dir, plan.plan_id) == {"done": PLAN_WRITES}
    log = app.home.root / migrateproc.TASK_LOG
    assert log.is_file() and stat.S_IMODE(log.stat().st_mode) == 0o600  # a home file: 0600


async def test_kill_9_of_the_child_leaves_a_plan_the_screen_resumes(
    mess: Mess, tmp_path: Path
) -> None:
    plan = reviewed_plan(mess, tmp_path)
    seen: list[Message] = []
    app = console(mess)
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        screen = await approve(app, pilot, plan)
        child = app.backend.task_child
        assert child is not None
        os.kill(child.pid, signal.SIGKILL)
        await until(lambda: _finished(seen, "backfill"))
        failed = _finished(seen, "backfill")[-1]
        assert not failed.ok and "SIGKILL" in failed.summary, failed.summary
        assert app.can_write  # the console keeps its lock
        left = statuses(app.home.db_path, app.home.backups_dir, plan.plan_id)
        done = left.get("done", 0)
        assert 0 < done < PLAN_WRITES, left
        await until(lambda: "interrupted" in str(screen.query_one("#plan-title").render()))
        title = str(screen.query_one("#plan-title").render())
        assert f"{plan.plan_id[:8]} interrupted" in title and "space resumes" in title
        mess.sandbox.set_faults(None)
        await pilot.press("space")
        await until(lambda: _finished(seen, "resume"))
        resumed = _finished(seen, "resume")[-1]
        assert resumed.ok, resumed.summary
        await until(lambda: "interrupted" not in str(screen.query_one("#plan-title").render()))
    assert statuses(app.home.db_path, app.home.backups_dir, plan.plan_id) == {"done": PLAN_WRITES}
