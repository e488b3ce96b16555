"""Issue 16 defect 3: a backfill interrupted by kill -9 is shown with its progress and can
be resumed (the CLI's `migrate status`, the console's migration screen); a new plan
supersedes the old one's pending rows explicitly, journaled, never silently."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from sqlmodel import col, select

from calsync_tui import clock
from calsync_tui.app import CalsyncApp
from calsync_tui.google.types import WriteCall
from calsync_tui.messages import TaskFinished
from calsync_tui.migration.phases import history, load_state
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.writes import journal as write_journal
from calsync_tui.writes.executor import count_attempt
from local_store.models import Mutation
from tests.migration.conftest import Mess

PLAN_WRITES = 19


def _killed_backfill(m: Mess, tmp_path: Path) -> tuple[str, int]:
    """discover, prepare, plan, then `migrate backfill` SIGKILLed after its first batch.
    Returns the plan id and how many of its writes were done."""
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    plan = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(plan), "--batch-size", "2")[0] == 0
    plan_id = json.loads(plan.read_text())["plan_id"]
    m.sandbox.set_faults("latency_ms=60,seed=1")  # slow enough to land between batches
    proc = m.start_backfill(plan)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("progress:"):
            break
    time.sleep(0.03)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    m.sandbox.set_faults(None)
    assert proc.returncode == -signal.SIGKILL
    with m.world.ctx.store.session() as s:
        rows = list(s.exec(select(Mutation).where(Mutation.plan_id == plan_id)))
    done = sum(1 for r in rows if r.status == "done")
    assert len(rows) == PLAN_WRITES and 0 < done < PLAN_WRITES
    return plan_id, done


def test_migrate_status_shows_the_interrupted_plan_and_how_to_resume(
    mess: Mess, tmp_path: Path
) -> None:
    plan_id, done = _killed_backfill(mess, tmp_path)
    code, out, err = mess.cli("migrate", "status")
    assert code == 0, err
    assert f"plan {plan_id[:8]} interrupted: {done}/{PLAN_WRITES} done" in out, out
    assert "`migrate resume` continues it" in out, out
    status = mess.cli_json("migrate", "status")
    interrupted = status["interrupted_plan"]
    assert interrupted["plan_id"] == plan_id and interrupted["kind"] == "backfill"
    assert interrupted["done"] == done and interrupted["total"] == PLAN_WRITES
    assert interrupted["pending"] == PLAN_WRITES - done
    # resume finishes it; nothing is interrupted any more
    res = mess.cli_json("migrate", "resume")
    assert res["journal"]["done"] == PLAN_WRITES
    assert mess.cli_json("migrate", "status")["interrupted_plan"] is None


def test_a_new_plan_supersedes_the_interrupted_one_explicitly(mess: Mess, tmp_path: Path) -> None:
    old_id, done = _killed_backfill(mess, tmp_path)
    with mess.world.ctx.store.session() as s:
        flying = {
            m.id
            for m in s.exec(select(Mutation).where(Mutation.plan_id == old_id))
            if m.status == "pending" and m.attempts > 0
        }
    new = tmp_path / "new.json"
    assert mess.cli("migrate", "plan", "--out", str(new))[0] == 0
    new_id = json.loads(new.read_text())["plan_id"]
    code, _out, err = mess.cli("migrate", "backfill", "--plan", str(new), "--yes")
    assert code == 0, err
    with mess.world.ctx.store.session() as s:
        old = list(s.exec(select(Mutation).where(Mutation.plan_id == old_id)))
        # rows in flight at the kill that reached Google were read back: done, not superseded
        settled = [r for r in old if r.id in flying and r.status == "done"]
        assert all(r.adopted for r in settled)
        done += len(settled)
        left = [r for r in old if r.status not in ("done",)]
        assert len(left) == PLAN_WRITES - done
        assert {r.status for r in left} == {"skipped"}
        assert {r.error for r in left} == {f"superseded by plan {new_id}"}
        events = [h for h in history(load_state(s)) if h["event"] == "plan_superseded"]
        assert events and events[-1]["plan_id"] == old_id and events[-1]["by"] == new_id
        assert events[-1]["rows"] == PLAN_WRITES - done
        pending = s.exec(select(Mutation).where(col(Mutation.status) == "pending")).all()
        assert pending == []
    assert mess.cli_json("migrate", "status")["interrupted_plan"] is None


async def test_the_console_shows_the_interrupted_plan_and_space_resumes_it(
    mess: Mess, tmp_path: Path
) -> None:
    plan_id, done = _killed_backfill(mess, tmp_path)
    mess.world.ctx.close()
    seen: list[object] = []
    app = CalsyncApp(home=mess.world.home.root, api_endpoint=mess.sandbox.url, start_engine=False)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40), message_hook=seen.append) as pilot:
        await pilot.press("m")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, MigrationScreen)
        title = str(screen.query_one("#plan-title").render())
        assert "no plan" not in title
        assert f"{plan_id[:8]} interrupted" in title and f"{done}/{PLAN_WRITES} done" in title
        assert "space resumes" in title
        await pilot.press("space")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        finished = [m for m in seen if isinstance(m, TaskFinished) and m.task == "resume"]
        assert finished and finished[-1].ok, [m.summary for m in finished]
        title = str(screen.query_one("#plan-title").render())
        assert "interrupted" not in title
    with mess.world.ctx.store.session() as s:
        rows = list(s.exec(select(Mutation).where(Mutation.plan_id == plan_id)))
    assert {r.status for r in rows} == {"done"}


def test_a_write_that_reached_google_before_the_crash_is_not_marked_superseded(
    mess: Mess, tmp_path: Path
) -> None:
    """Rows in flight when the old plan stopped (attempt counted, sent, answer never
    recorded) are read back before a new plan supersedes the rest: one that reached
    Google is `done` (rollback level 2 undoes it), not `superseded`."""
    old_id, _done = _killed_backfill(mess, tmp_path)
    store = mess.world.ctx.store
    with store.engine.connect() as conn:
        pending = write_journal.load(conn, plan_id=old_id, statuses=["pending"])
        where = write_journal.targets(conn)
    # one row of each kind Google got just before the kill: counted, sent, not recorded
    flying = {r.op: r for r in pending if r.attempts == 0}
    assert {"stamp", "insert"} <= set(flying), sorted(flying)
    sent = [flying["stamp"], flying["insert"]]
    count_attempt(store, sent, clock.now())
    for r in sent:
        t = where[r.calendar_id]
        call = WriteCall(str(r.id), r.write.call, t.google_id, r.google_event_id, r.body)
        (res,) = mess.world.ctx.gateway_for(t.account).execute([call])
        assert res.ok, res
    new = tmp_path / "new.json"
    assert mess.cli("migrate", "plan", "--out", str(new))[0] == 0
    new_id = json.loads(new.read_text())["plan_id"]
    code, _out, err = mess.cli("migrate", "backfill", "--plan", str(new), "--yes")
    assert code == 0, err
    with store.session() as s:
        rows = {r.id: r for r in s.exec(select(Mutation).where(Mutation.plan_id == old_id))}
        for r in sent:
            assert rows[r.id].status == "done", (r.op, rows[r.id].status, rows[r.id].error)
            assert rows[r.id].adopted
        left = [m for m in rows.values() if m.status == "skipped"]
        assert left and {m.error for m in left} == {f"superseded by plan {new_id}"}
        assert {m.id for m in left}.isdisjoint(r.id for r in sent)
