"""Two processes on one home: the second writer refuses clearly (the home lock), readers
still read, nothing is corrupted, and the lock dies with a kill -9'd holder."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from calsync_tui.app import CalsyncApp
from calsync_tui.locking import lock_holder
from tests.engine.world import when
from tests.proof.conftest import Synced
from tests.proof.test_bad_input import run_cli, store_digest

REFUSED = re.compile(r"^calsync-tui: error: another calsync-tui \(pid (\d+), ([\w ]+)\) is using ")


def _refused(proc: subprocess.CompletedProcess[str], pid: int, purpose: str) -> None:
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    match = REFUSED.match(lines[0])
    assert match and int(match[1]) == pid and match[2] == purpose, lines[0]


def _integrity(synced: Synced) -> None:
    conn = sqlite3.connect(synced.world.home.db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_tui_holds_the_home_cli_writers_refused_readers_served(synced: Synced) -> None:
    w = synced.world
    w.put(synced.a, "New while the TUI is open")  # something a writer would write
    app = CalsyncApp(home=w.home.root, api_endpoint=w.sandbox.url, start_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.can_write
        before = store_digest(w.home)
        w.sandbox.reset_stats()
        for argv in (
            ["sync", "--once"],
            ["migrate", "prepare"],
            ["calendars", "disable", synced.b],
        ):
            _refused(run_cli(w.home.root, w.sandbox.url, argv), os.getpid(), "tui")
        # (`migrate discover` is not a writer: read-only on Google, it records its inventory)
        status = run_cli(w.home.root, w.sandbox.url, ["status", "--json"])
        assert status.returncode == 0, status.stderr
        assert w.sandbox.stats()["writes"] == 0
        assert store_digest(w.home) == before
    assert lock_holder(w.home) is None  # released when the console closes
    proc = run_cli(w.home.root, w.sandbox.url, ["sync", "--once"])
    assert proc.returncode == 0, proc.stderr
    _integrity(synced)


def _start_holder(synced: Synced) -> subprocess.Popen[bytes]:
    """A continuous `sync` (one cycle, then an hour's wait) holding the home lock."""
    w = synced.world
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    clean["CALSYNC_TOKEN_STORE"] = "file"
    holder = subprocess.Popen(
        [
            *(sys.executable, "-m", "calsync_tui"),
            *("--home", str(w.home.root), "--api-endpoint", w.sandbox.url),
            *("sync", "--interval", "3600"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=clean,
    )
    deadline = time.monotonic() + 30
    while lock_holder(w.home) is None:
        assert time.monotonic() < deadline and holder.poll() is None, "sync never started"
        time.sleep(0.05)
    return holder


async def test_cli_writer_holds_the_home_tui_is_read_only_then_kill_9(synced: Synced) -> None:
    w = synced.world
    holder = _start_holder(synced)
    try:
        app = CalsyncApp(home=w.home.root, api_endpoint=w.sandbox.url, start_engine=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert not app.can_write
            assert f"pid {holder.pid}, sync" in (app.readonly_reason or "")
        _refused(run_cli(w.home.root, w.sandbox.url, ["sync", "--once"]), holder.pid, "sync")
    finally:
        holder.kill()
        holder.wait()
    assert lock_holder(w.home) is None
    _integrity(synced)
    proc = run_cli(w.home.root, w.sandbox.url, ["sync", "--once", "--json"])
    assert proc.returncode == 0, proc.stderr


def test_racing_writers_one_runs_the_other_refuses(synced: Synced) -> None:
    """Pairs of `sync --once` started together, with fresh changes each round: every
    process either syncs (exit 0) or refuses in one line; the end state is sound."""
    w = synced.world
    outcomes: list[int] = []
    for round_ in range(2):
        s, e = when(5 + round_, hours=12)
        w.put(synced.a, f"Race {round_}", start=s, end=e)
        with ThreadPoolExecutor(2) as pool:
            procs = list(
                pool.map(
                    lambda _: run_cli(w.home.root, w.sandbox.url, ["sync", "--once"]), range(2)
                )
            )
        for proc in procs:
            assert "Traceback" not in proc.stderr
            if proc.returncode == 1:
                assert REFUSED.match(proc.stderr), proc.stderr
            else:
                assert proc.returncode == 0, proc.stderr
            outcomes.append(proc.returncode)
    assert 0 in outcomes
    _integrity(synced)
    w.ctx = type(w.ctx)(w.home, w.settings)
    for _ in range(3):
        if not w.sync().planned:
            break
    w.assert_ok()
