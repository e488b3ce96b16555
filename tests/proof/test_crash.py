"""Crashes: SIGKILL (kill -9) at seeded random points of discover, backfill, a sync cycle,
cutover and rollback level 2, each followed by a restart of the same command until it
completes. After the whole journey: `PRAGMA integrity_check` is ok, no journal row is
left `pending`, invariants hold after cutover, and rollback level 2 still brings Google
back exactly to its pre-migration state.

The engine's and the migration's own tests kill a large sync cycle and a faulty backfill
(tests/engine/test_crash_and_cli.py, tests/migration/test_operations.py); this one walks
every phase with kill points drawn from a seed.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import save_settings
from local_store.models import Mutation
from tests.engine.test_crash_and_cli import _kill_after_writes, start
from tests.engine.world import World
from tests.migration.conftest import Mess, build_mess
from tests.migration.test_journey import _diff


def _kill_after(proc: subprocess.Popen[str], seconds: float) -> bool:
    """SIGKILL after `seconds` unless it finished first (True when killed)."""
    try:
        proc.wait(timeout=seconds)
        return False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return True


def _finish(m: Mess, argv: tuple[str, ...], done: Any, tries: int = 5) -> dict[str, Any]:
    """Restart the command (in this process: only the killed runs need their own) until
    `done(json)` holds."""
    out: dict[str, Any] = {}
    err = ""
    for _ in range(tries):
        code, stdout, err = m.cli(*argv, "--json")
        if code == 0:
            out = json.loads(stdout)
            if done(out):
                return out
    raise AssertionError(f"{argv} never completed: {out or err}")


def _crash(w: World, argv: tuple[str, ...], rng: random.Random, max_writes: int) -> int:
    """Start the command and kill it after a random number of writes (1..max_writes) or,
    for read-only steps (max_writes 0), after a random delay. Returns 1 if killed."""
    proc = start(w, *argv)
    if max_writes == 0:
        killed = _kill_after(proc, rng.uniform(0.2, 1.5))
    else:
        killed = _kill_after_writes(w, proc, rng.randint(1, max_writes))
    if proc.stdout:
        proc.stdout.close()
    if proc.stderr:
        proc.stderr.close()
    return int(killed)


def _integrity(w: World) -> None:
    conn = sqlite3.connect(w.home.db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def _pending(w: World) -> list[tuple[str, str]]:
    w.ctx = type(w.ctx)(w.home, w.settings)
    try:
        with w.ctx.store.session() as s:
            return [(r.op, r.status) for r in s.exec(select(Mutation)) if r.status == "pending"]
    finally:
        w.ctx.close()


def crash_journey(root: Path, seed: int) -> int:
    """The migration journey with one kill per phase; returns how many kills landed."""
    rng = random.Random(seed)
    kills = 0
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        w = World(srv, root, requests_per_minute=10_000)
        m: Mess = build_mess(w)
        pre = m.google()
        save_settings(w.home, w.settings)
        w.ctx.close()  # no connection of ours beside the children (POSIX locks)
        try:
            kills += _crash(w, ("migrate", "discover"), rng, 0)
            _finish(m, ("migrate", "discover"), lambda r: True)
            _finish(m, ("migrate", "prepare"), lambda r: r["gate"]["passed"])
            plan = root / "plan.json"
            batch = str(rng.choice([2, 4, 50]))
            _finish(m, ("migrate", "plan", "--out", str(plan), "--batch-size", batch), bool)
            backfill = ("migrate", "backfill", "--plan", str(plan), "--yes")
            kills += _crash(w, backfill, rng, 18)
            _integrity(w)
            _finish(m, backfill, lambda r: r["gate"]["passed"])
            _finish(m, ("migrate", "rollout", "--percent", "100"), lambda r: True)
            kills += _crash(w, ("sync", "--once"), rng, 0)
            for _ in range(6):
                m.cli("sync", "--once")
                if m.cli("migrate", "rollout", "--check", "--json")[0] == 0:
                    break
            kills += _crash(w, ("migrate", "cutover", "--yes"), rng, 9)
            _integrity(w)
            _finish(m, ("migrate", "cutover", "--yes"), lambda r: r["complete"])
            _finish(m, ("sync", "--once"), lambda r: r["planned"] == {} and r["failed"] == 0)
            assert _pending(w) == []
            w.ctx = type(w.ctx)(w.home, w.settings)
            w.assert_ok()
            w.ctx.close()
            rollback = ("migrate", "rollback", "--level", "2", "--yes")
            kills += _crash(w, rollback, rng, 12)
            _integrity(w)
            _finish(m, rollback, lambda r: r["complete"] and r["journal"]["failed"] == 0)
            _integrity(w)
            assert _pending(w) == []
            assert _diff(m.google(), pre) == []
            return kills
        finally:
            w.close()


def test_crash_journey_short(tmp_path: Path) -> None:
    kills = crash_journey(tmp_path, seed=4)
    assert kills >= 2, "the kills all came too late: the test would prove nothing"


@pytest.mark.campaign
@pytest.mark.parametrize("seed", range(10, 22))
def test_crash_journey_campaign(tmp_path: Path, seed: int) -> None:
    crash_journey(tmp_path, seed)
