"""The console's migration process (`service.migrateproc`): the CLI's `migrate <step>
--progress-jsonl` in a child, over the real sandbox (HTTP), real SQLite, real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlmodel import select

from calsync_tui.locking import home_lock
from calsync_tui.migration.journal import Progress
from calsync_tui.service import migrateproc
from calsync_tui.service.migrateproc import TaskOutcome, TaskStarted
from local_store import queries
from local_store.models import Calendar, Mutation
from tests.migration.conftest import Mess, mess

__all__ = ["mess"]  # the fixture

PLAN_WRITES = 19


def _spawn(m: Mess, *argv: str) -> subprocess.Popen[str]:
    """The CLI as a child of this test (no console: it takes the lock itself)."""
    m.world.ctx.close()  # a second connection beside the child would drop its locks
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    cmd = [sys.executable, "-m", "calsync_tui", "--home", str(m.world.home.root)]
    cmd += ["--api-endpoint", m.sandbox.url, *argv]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _run(m: Mess, *argv: str) -> tuple[int, list[object], str]:
    proc = _spawn(m, *argv)
    out, err = proc.communicate(timeout=180)
    return proc.returncode, [migrateproc.CODEC.decode(ln) for ln in out.splitlines()], err


def _plan(m: Mess, tmp_path: Path) -> Path:
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    path = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(path), "--batch-size", "2")[0] == 0
    return path


def _statuses(m: Mess, plan: Path) -> dict[str, int]:
    plan_id = json.loads(plan.read_text())["plan_id"]
    out: dict[str, int] = {}
    with m.world.ctx.store.session() as s:
        for r in s.exec(select(Mutation).where(Mutation.plan_id == plan_id)):
            out[r.status] = out.get(r.status, 0) + 1
    return out


def test_backfill_progress_jsonl_is_progress_lines_then_the_outcome(
    mess: Mess, tmp_path: Path
) -> None:
    plan = _plan(mess, tmp_path)
    code, items, err = _run(
        mess, "migrate", "backfill", "--plan", str(plan), "--yes", "--progress-jsonl"
    )
    assert code == 0, err
    assert isinstance(items[0], TaskStarted) and items[0].task == "backfill"
    progress = [i for i in items[1:-1] if isinstance(i, Progress)]
    assert len(progress) == len(items) - 2 >= PLAN_WRITES // 2  # one line per batch of 2
    assert progress[-1].done == progress[-1].total == PLAN_WRITES
    outcome = items[-1]
    assert isinstance(outcome, TaskOutcome) and outcome.exit_code == 0
    assert outcome.summary.startswith(f"done {PLAN_WRITES}/{PLAN_WRITES}")
    assert outcome.result["journal"]["done"] == PLAN_WRITES and not outcome.paused
    assert _statuses(mess, plan) == {"done": PLAN_WRITES}


def test_sigterm_pauses_after_the_batch_and_resume_finishes(mess: Mess, tmp_path: Path) -> None:
    plan = _plan(mess, tmp_path)
    mess.sandbox.set_faults("latency_ms=200,seed=1")
    proc = _spawn(mess, "migrate", "backfill", "--plan", str(plan), "--yes", "--progress-jsonl")
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if isinstance(migrateproc.CODEC.decode(line), Progress):
            break
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=120)
    mess.sandbox.set_faults(None)
    items = [migrateproc.CODEC.decode(ln) for ln in [*lines, *rest.splitlines()]]
    outcome = items[-1]
    assert isinstance(outcome, TaskOutcome), err
    assert outcome.paused and outcome.summary.startswith("paused "), outcome.summary
    left = _statuses(mess, plan)
    assert left.get("pending", 0) > 0 and left.get("done", 0) > 0, left
    with mess.world.ctx.store.session() as s:
        assert queries.peek_migration_state(s).paused
    code, items, err = _run(mess, "migrate", "resume", "--progress-jsonl")
    assert code == 0, err
    outcome = items[-1]
    assert isinstance(outcome, TaskOutcome) and outcome.task == "resume"
    assert outcome.summary.startswith(f"done {PLAN_WRITES}/{PLAN_WRITES}"), outcome.summary
    assert _statuses(mess, plan) == {"done": PLAN_WRITES}


def test_rollback_level_1_in_a_child_and_the_lock_is_respected(mess: Mess, tmp_path: Path) -> None:
    _plan(mess, tmp_path)
    with mess.world.ctx.store.session() as s:
        for cal in s.exec(select(Calendar)):
            cal.engine_mode = "hybrid"
            s.add(cal)
        s.commit()
    argv = ("migrate", "rollback", "--level", "1", "--yes", "--progress-jsonl")
    # Someone else holds the home: the child refuses, in one line, and writes nothing.
    with home_lock(mess.world.home, "tui"):
        code, items, err = _run(mess, *argv)
    assert code == 1 and items == [] and "another calsync-tui" in err
    assert err.strip().count("\n") == 0, err
    with mess.world.ctx.store.session() as s:
        assert {c.engine_mode for c in s.exec(select(Calendar))} == {"hybrid"}
    code, items, err = _run(mess, *argv)
    assert code == 0, err
    outcome = items[-1]
    assert isinstance(outcome, TaskOutcome) and outcome.task == "rollback L1"
    assert outcome.summary.endswith("calendar(s) back to legacy mode")
    with mess.world.ctx.store.session() as s:
        assert {c.engine_mode for c in s.exec(select(Calendar))} == {"legacy"}


def test_progress_jsonl_refuses_what_it_does_not_go_with(mess: Mess) -> None:
    for argv in (
        ("migrate", "resume", "--progress-jsonl", "--json"),
        ("migrate", "backfill", "--dry-run", "--progress-jsonl"),
        ("migrate", "rollback", "--level", "2", "--dry-run", "--progress-jsonl"),
    ):
        code, out, err = mess.cli(*argv)
        assert code != 0 and out == "", argv
        lines = err.strip().splitlines()
        assert lines and "--progress-jsonl" in lines[-1], (argv, err)
