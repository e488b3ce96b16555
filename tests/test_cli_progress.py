"""Issue 16: the CLI shows progress on long work. `sync --once` was silent for 34 s over
451 calls; now it draws a progress line on stderr when stderr is a terminal (a real pty
here), prints nothing extra when it is a pipe and the run is short, and never touches
`--json` stdout. `sync --interval` lines carry the time (the domain clock's,
`CALSYNC_NOW` in a child process). Real CLI subprocesses against the sandbox."""

from __future__ import annotations

import json
import os
import pty
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calsync_tui import clock
from calsync_tui.commands.progress import SyncProgress
from calsync_tui.engine.events import CalendarRead, CycleDone, CycleStarted, MutationsProgress
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import save_settings
from tests.engine.world import World, when

EXE = [sys.executable, "-m", "calsync_tui"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as sb:
        w = World(sb, tmp_path, requests_per_minute=10_000)
        try:
            yield w
        finally:
            w.close()


def _setup(world: World, n: int) -> None:
    me = world.user("ann@example.com")
    a = world.calendar(me, "Work", cal_id="ann@example.com")
    b = world.calendar(me, "Personal")
    for i in range(n):
        s, e = when(1 + i % 30, hours=8 + i % 10, minutes=(i * 7) % 60, length_min=30)
        world.put(a, f"Meeting {i}", start=s, end=e)
    world.enable(a, b)
    world.settings.batch_size = 5  # several batches: several progress updates
    save_settings(world.home, world.settings)
    world.ctx.close()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    return {**env, "TZ": "UTC", **extra}


def _args(world: World, *argv: str) -> list[str]:
    return [*EXE, *argv, "--home", str(world.home.root), "--api-endpoint", world.sandbox.url]


def test_sync_once_draws_progress_on_a_terminal_and_keeps_json_clean(world: World) -> None:
    _setup(world, 30)
    world.sandbox.set_faults("latency_ms=120")  # a slow Google: the cycle takes seconds
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        _args(world, "sync", "--once", "--json"),
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env(),
        text=True,
    )
    os.close(slave)
    out, _ = proc.communicate(timeout=120)
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    world.sandbox.set_faults(None)
    assert proc.returncode == 0, err
    report = json.loads(out)  # stdout is the JSON alone
    assert report["failed"] == 0 and not report["dry_run"]
    text = err.decode()
    assert "\r\x1b[Ksync: read " in text, text
    assert re.search(r"writes \d+/\d+, [\d.]+ writes/s, ETA \d+s", text), text
    assert text.endswith("\r\x1b[K")  # the line is cleared before the summary


def test_sync_once_into_a_pipe_prints_no_progress_when_short(world: World) -> None:
    _setup(world, 5)
    proc = subprocess.run(
        _args(world, "sync", "--once"), capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "sync: read" not in proc.stderr and "\r" not in proc.stderr
    assert proc.stdout.count("\n") >= 1


def test_progress_into_a_log_is_a_line_now_and_then() -> None:
    """Not a terminal: one plain line per `log_every` seconds, with the moving rate."""
    t = [0.0]
    lines: list[str] = []

    class Log:
        def write(self, s: str) -> None:
            lines.append(s)

        def flush(self) -> None:
            pass

        def isatty(self) -> bool:
            return False

    p = SyncProgress(Log(), log_every=10, clock=lambda: t[0])  # type: ignore[arg-type]
    p(CycleStarted(False, 2))
    for i, cal in enumerate(("a", "b")):
        t[0] = 5.0 * (i + 1)
        p(CalendarRead(cal, 200, True))
    for done in (50, 100, 150, 200):
        t[0] += 3
        p(MutationsProgress(done, 451))
    p(CycleDone(None))  # type: ignore[arg-type]
    assert len(lines) == 2 and all(ln.endswith("\n") and "\r" not in ln for ln in lines)
    assert lines[0].startswith("sync: read 2/2 calendar(s), 400 event(s)")
    assert "writes 200/451, 16.7 writes/s, ETA 15s" in lines[1], lines  # 50 per 3 s


def test_sync_interval_lines_carry_the_domain_time(world: World) -> None:
    _setup(world, 2)
    start = (clock.now() + timedelta(hours=2)).replace(microsecond=0)
    proc = subprocess.Popen(
        _args(world, "sync", "--interval", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(CALSYNC_NOW=start.strftime("%Y-%m-%dT%H:%M:%SZ")),
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    second = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    stamps = []
    for line in (first, second):
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \S", line)
        assert m, line
        stamps.append(datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    assert start <= stamps[0] <= stamps[1] < start + timedelta(seconds=60), stamps
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d sync stopped$", err, re.M), err
