"""The CLI as a real subprocess: calendars, sync (--once/--dry-run/--json), lineage,
SIGKILL in the middle of a large cycle, and drop-after-write faults."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import save_settings
from tests.engine.test_scenarios import _settle
from tests.engine.world import World, iter_blocks, when

EXE = [sys.executable, "-m", "calsync_tui"]


def cli(world: World, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    proc = subprocess.run(
        [*EXE, "--home", str(world.home.root), "--api-endpoint", world.sandbox.url, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def start(world: World, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    return subprocess.Popen(
        [*EXE, "--home", str(world.home.root), "--api-endpoint", world.sandbox.url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def setup_cli_world(world: World, n: int) -> tuple[str, str]:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "Work", cal_id="ann@example.com")
    b = world.calendar("ann@example.com", "Personal")
    for i in range(n):
        s, e = when(1 + i % 60, hours=8 + i % 10, minutes=(i * 7) % 60, length_min=30)
        world.put(a, f"Meeting {i}", start=s, end=e)
    save_settings(world.home, world.settings)
    world.ctx.close()
    return a, b


def test_cli_calendars_sync_lineage(world: World) -> None:
    a, b = setup_cli_world(world, 3)
    listed = json.loads(cli(world, "calendars", "list", "--json", check=True).stdout)
    assert {c["google_id"] for c in listed["calendars"]} == {a, b}
    assert all(c["access_role"] == "owner" and not c["enabled"] for c in listed["calendars"])
    bad = cli(world, "calendars", "enable", "nope@example.com")
    assert (
        bad.returncode == 1 and bad.stderr.count("\n") == 1 and "unknown calendar id" in bad.stderr
    )
    cli(world, "calendars", "enable", a, b, check=True)
    dry = json.loads(cli(world, "sync", "--once", "--dry-run", "--json", check=True).stdout)
    assert dry["dry_run"] and dry["planned"] == {"insert": 3, "stamp": 3}
    assert world.sandbox.stats()["writes"] == 0
    out = json.loads(cli(world, "sync", "--once", "--json", check=True).stdout)
    assert out["mutations"] == {"insert": 3, "stamp": 3} and out["failed"] == 0
    blk = next(iter_blocks(world.sandbox.events(b)))
    lin = json.loads(cli(world, "lineage", blk["id"], "--json", check=True).stdout)
    assert (
        lin["source"]["summary"].startswith("Meeting")
        and lin["blocks"][0]["google_event_id"] == blk["id"]
    )
    human = cli(world, "lineage", blk["id"], check=True).stdout
    assert "journal" in human and "insert" in human
    missing = cli(world, "lineage", "does-not-exist")
    assert missing.returncode == 1 and "no event known" in missing.stderr
    dis = cli(world, "calendars", "disable", b, "--remove-blocks", check=True)
    assert "removed 3 busy block(s)" in dis.stdout
    assert list(iter_blocks(world.sandbox.events(b))) == []


def _kill_after_writes(world: World, proc: subprocess.Popen[str], writes: int) -> bool:
    """SIGKILL once the sandbox has applied `writes` more writes; False if it finished first."""
    base = world.sandbox.stats()["writes"]
    # Generous: a child at a low priority on a loaded 2-core machine can take a minute to
    # start and reach its first write (the campaign failed at 60 s under a load of 10).
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if world.sandbox.stats()["writes"] - base >= writes:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        time.sleep(0.002)
    proc.kill()
    raise AssertionError("sync did not progress")


def _no_duplicates(world: World, cal: str) -> None:
    by_source = Counter(
        e["extendedProperties"]["private"]["calsync_source"]
        for e in iter_blocks(world.sandbox.events(cal))
    )
    assert by_source and max(by_source.values()) == 1


def converge(world: World, kill_points: list[int]) -> None:
    kills = 0
    for point in kill_points:
        proc = start(world, "sync", "--once")
        if _kill_after_writes(world, proc, point):
            kills += 1
    assert kills >= 2, "the cycle finished before the kill points; make it larger"
    for _ in range(5):
        out = json.loads(cli(world, "sync", "--once", "--json", check=True).stdout)
        if out["planned"] == {}:
            break
    assert out["planned"] == {} and out["stuck"] == 0


def test_sigkill_during_a_large_cycle_then_converge(world: World) -> None:
    n = 200
    a, b = setup_cli_world(world, n)
    cli(world, "calendars", "enable", a, b, check=True)
    converge(world, [5, 60, 130])
    _no_duplicates(world, b)
    world.ctx = type(world.ctx)(world.home, world.settings)
    world.assert_ok()
    assert len(list(iter_blocks(world.truth()[b]))) == n


@pytest.fixture
def fast_world(tmp_path: Path) -> Iterator[World]:
    """A world whose client runs past Google's documented pace (10,000 requests/min, for
    the campaign's speed) on a sandbox without the per-calendar burst limit, which exists
    to answer exactly such a client with 403 rateLimitExceeded (sandbox/quota.py; the
    child sync then waits Google-sized backoffs and the kill points never come). Every
    other strict behaviour stays on."""
    with SandboxServer(
        quota_per_user=None, quota_per_project=None, lenient=["calendar_burst"]
    ) as srv:
        w = World(srv, tmp_path, requests_per_minute=10_000)
        # Nor the client's own window for it (google/pacer.py CalendarWindow): 1,500
        # writes to one calendar would wait a minute at each kill point's rerun.
        w.settings.extra["calendar_writes_per_minute"] = 0
        try:
            yield w
        finally:
            w.close()


@pytest.mark.campaign
def test_sigkill_campaign(fast_world: World) -> None:
    world = fast_world
    n = 1500
    a, b = setup_cli_world(world, n)
    cli(world, "calendars", "enable", a, b, check=True)
    converge(world, [1, 7, 33, 50, 51, 99, 180, 333, 500, 777, 1000, 1400])
    _no_duplicates(world, b)
    world.ctx = type(world.ctx)(world.home, world.settings)
    world.assert_ok()


def test_drop_after_write_faults_converge(world: World) -> None:
    a, b = two(world)
    for i in range(40):
        s, e = when(1 + i % 20, hours=9 + i % 8)
        world.put(a, f"M{i}", start=s, end=e)
    world.sandbox.set_faults("drop_after_write=0.15,rate=0.1,error5xx=0.05,seed=11")
    for _ in range(6):
        world.sync()
    world.sandbox.set_faults(None)
    _settle(world)
    assert world.sandbox.stats()["dropped"] > 0
    _no_duplicates(world, b)
    world.assert_ok()


def two(world: World) -> tuple[str, str]:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "Work", cal_id="ann@example.com")
    b = world.calendar("ann@example.com", "Personal")
    world.enable(a, b)
    return a, b


def test_sync_loop_stops_cleanly_on_ctrl_c(world: World) -> None:
    a, b = setup_cli_world(world, 2)
    cli(world, "calendars", "enable", a, b, check=True)
    proc = start(world, "sync", "--interval", "30")
    assert proc.stdout is not None
    first = proc.stdout.readline()  # one line per cycle
    assert "wrote 4" in first, first
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "sync stopped" in err and "Traceback" not in err
    # the lock is free again and nothing is pending
    done = json.loads(cli(world, "sync", "--once", "--json", check=True).stdout)
    assert done["stuck"] == 0 and done["failed"] == 0


def test_sync_dry_run_verbose_prints_plan_lines(world: World) -> None:
    """`sync --dry-run -v` lists each planned write as every other dry run does
    (`service.plans.PlanLine` through `write_text`): the calendar by name, when, the
    title, what changes, why; ids last. Nothing is written."""
    a, b = setup_cli_world(world, 2)
    cli(world, "calendars", "enable", a, b, check=True)
    out = cli(world, "sync", "--dry-run", "-v", check=True).stdout
    assert world.sandbox.stats()["writes"] == 0
    lines = out.splitlines()
    assert lines[0].startswith("dry run: "), out
    heads = [ln for ln in lines if re.match(r"^\s+\d+ (insert|stamp)\s", ln)]
    assert len(heads) == 4, out  # two stamps on Work, two blocks on Personal
    assert any(" insert    Personal · " in h and '"Busy - Meeting 0"' in h for h in heads), out
    assert any(" stamp     Work · " in h and '"Meeting 1"' in h for h in heads), out
    assert sum("why: " in ln and "[event " in ln for ln in lines) == 4, out
    assert any("private.calsync_id: — → " in ln for ln in lines), out
