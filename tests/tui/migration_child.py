"""Helpers for the console's migration child (`service.migrateproc`) on the legacy-mess
world: a saved, reviewed 19-write plan in batches of 2 over a slow sandbox (real HTTP),
and waits that poll the app's state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import select

from calsync_tui.app import CalsyncApp
from calsync_tui.migration.plan_file import read_plan
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.service.plans import PlanView, plan_view
from local_store import queries
from local_store.db import open_store
from local_store.models import Mutation
from tests.migration.conftest import Mess

PLAN_WRITES = 19
SLOW = "latency_ms=300,seed=1"  # each batch of 2 takes a third of a second or more
SLOWER = "latency_ms=900,seed=1"  # about 10 s for the plan: time for a person's keys


def reviewed_plan(m: Mess, tmp_path: Path, faults: str = SLOW) -> PlanView:
    """discover, prepare, plan (batches of 2) through the CLI; the plan as the cockpit
    reviews it. The sandbox is slowed down and our own store connection closed (the
    console and its child open their own)."""
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    path = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(path), "--batch-size", "2")[0] == 0
    with m.world.ctx.store.session() as s:
        names = queries.summaries_by_google_id(s)
    view = plan_view(read_plan(path), names)
    view.path = path
    assert len(view.lines) == PLAN_WRITES
    m.world.ctx.close()
    m.sandbox.set_faults(faults)
    return view


def console(m: Mess) -> CalsyncApp:
    app = CalsyncApp(home=m.world.home.root, api_endpoint=m.sandbox.url, start_engine=False)
    app.animation_level = "none"
    return app


async def until(cond: Callable[[], object], limit_s: float = 90.0) -> None:
    """Poll `cond()` until it is true; fails the test after `limit_s` (a hang, not a
    timing assertion)."""
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < limit_s, "the console did not get there"
        await asyncio.sleep(0.02)


async def approve(app: CalsyncApp, pilot: Any, plan: PlanView) -> MigrationScreen:
    """m, the plan under review, y, y: the backfill starts in its child; returns once
    two batches are written."""
    await pilot.press("m")
    await pilot.pause()
    screen = app.screen
    assert isinstance(screen, MigrationScreen)
    screen.show_plan(plan)
    await pilot.press("y")
    await pilot.pause()
    assert isinstance(app.screen, ConfirmScreen)
    await pilot.press("y")
    await until(lambda: app.migration_progress and app.migration_progress[0] >= 2)
    assert app.backend.task_child is not None  # it runs in a child process
    assert app.backend.task_child.pid != os.getpid()
    return screen


def statuses(home_db: Path, backups: Path, plan_id: str) -> dict[str, int]:
    store = open_store(home_db, backups)
    try:
        with store.session() as s:
            rows = list(s.exec(select(Mutation).where(Mutation.plan_id == plan_id)))
    finally:
        store.close()
    out: dict[str, int] = {}
    for r in rows:
        out[r.status] = out.get(r.status, 0) + 1
    return out


def paused(home_db: Path, backups: Path) -> bool:
    store = open_store(home_db, backups)
    try:
        with store.session() as s:
            return bool(queries.peek_migration_state(s).paused)
    finally:
        store.close()


def wait_for_exit(pid: int, limit_s: float = 120.0) -> None:
    """Until the process `pid` (a child of this test process) has exited."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already reaped (subprocess's own clean-up)
            done = pid
        if done:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
    raise AssertionError(f"process {pid} did not end")
