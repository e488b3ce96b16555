"""Google's usage limit against the strict sandbox (403 quotaExceeded, sticky): the
account's writes stop at once, `sync --once` says so in one line and exits 1 within
seconds, nothing is lost, later cycles send at most one probe, other accounts and reads
carry on, and once Google accepts a write again everything is written."""

from __future__ import annotations

import contextlib
import io
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import select

from calsync_tui import clock
from calsync_tui.cli import main as cli_main
from local_store.models import Account, Mutation
from tests.engine.test_scenarios import _settle
from tests.engine.world import World, when
from tests.migration.conftest import Mess

ANN = "ann@example.com"
BOB = "bob@example.com"
NEW_EVENTS = 120


def _cli(world: World, *argv: str) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    args = [*argv, "--home", str(world.home.root), "--api-endpoint", world.sandbox.url]
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(args)
    return code, out.getvalue(), err.getvalue(), time.monotonic() - started


def _refused_403(world: World) -> int:
    return int(world.sandbox.stats()["by_status"].get("403", 0))


def _account(world: World, email: str) -> Account:
    with world.ctx.store.session() as s:
        acct = s.exec(select(Account).where(Account.email == email)).one()
        s.expunge(acct)
        return acct


def _pending(world: World) -> int:
    with world.ctx.store.session() as s:
        return len(list(s.exec(select(Mutation).where(Mutation.status == "pending"))))


def test_usage_limit_pauses_the_account_visibly_and_loses_nothing(world: World) -> None:
    world.user(ANN)
    world.user(BOB)
    a = world.calendar(ANN, "Work", cal_id=ANN)
    b = world.calendar(ANN, "Personal")
    c = world.calendar(BOB, "Bob", cal_id=BOB)
    world.enable(a, b, c)
    world.put(a, "Kickoff")
    _settle(world)
    for i in range(NEW_EVENTS):
        start, end = when(1 + i % 20, hours=8 + i % 9, minutes=(i * 7) % 60, length_min=15)
        world.put(a, f"Meeting {i}", start=start, end=end)
    world.sandbox.trip_usage_limit(ANN)  # ann's account is read-only for hours
    world.sandbox.reset_stats()
    t0 = clock.now()

    code, _out, err, seconds = _cli(world, "sync", "--once")
    assert code == 1 and seconds < 15, (code, seconds, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    assert f"Google's usage limit for {ANN} reached: writes paused until " in lines[0]
    assert lines[0].endswith("; nothing lost; run again later")
    refused_first = _refused_403(world)
    print(f"lockout: sync --once exited in {seconds:.2f} s; {refused_first} refused writes sent")
    assert 0 < refused_first <= world.settings.batch_size  # one batch at most, no retries
    assert len(world.blocks_on(c)) == NEW_EVENTS + 1  # bob's writes carried on
    acct = _account(world, ANN)
    assert acct.lockout_level == 1 and acct.writes_paused_until is not None
    pause = acct.writes_paused_until - t0
    assert timedelta(minutes=59) < pause < timedelta(minutes=61)
    assert _pending(world) > 0  # the refused batch waits in the journal

    # while paused: not one write for ann, the same line, reads go on
    world.sandbox.reset_stats()
    code, _out, err, seconds = _cli(world, "sync", "--once")
    assert code == 1 and seconds < 15 and "writes paused until" in err
    assert _refused_403(world) == 0 and world.sandbox.stats()["writes"] == 0
    assert world.sandbox.stats()["by_method"].get("calendar.events.list", 0) >= 3

    # after the pause: one probe; Google still refuses, so the pause doubles
    with clock.moved_to(t0 + timedelta(minutes=61)):
        world.sandbox.reset_stats()
        code, _out, err, seconds = _cli(world, "sync", "--once")
        assert code == 1 and seconds < 15 and "writes paused until" in err
        assert _refused_403(world) == 1 and world.sandbox.stats()["writes"] == 0
        acct = _account(world, ANN)
        assert acct.lockout_level == 2
        assert acct.writes_paused_until is not None
        second = acct.writes_paused_until - clock.now()
        assert timedelta(minutes=119) < second < timedelta(minutes=121)

    # Google lifts the limit; after the pause the probe succeeds and everything is written
    world.sandbox.clear_usage_limit(ANN)
    with clock.moved_to(t0 + timedelta(minutes=61 + 121)):
        r = world.sync()
        assert r.failed == 0 and not r.errors, r.errors[:3]
        acct = _account(world, ANN)
        assert acct.lockout_level == 0 and acct.writes_paused_until is None
        _settle(world)
        assert len(world.blocks_on(b)) == NEW_EVENTS + 1
        assert _pending(world) == 0
        world.assert_ok()


def test_pause_doubles_from_an_hour_to_at_most_a_day() -> None:
    from calsync_tui.writes.lockout import pause_for, pause_line

    assert [pause_for(n) for n in (1, 2, 3)] == [timedelta(hours=h) for h in (1, 2, 4)]
    assert pause_for(6) == pause_for(12) == timedelta(days=1)
    t = clock.now()
    assert pause_line("a@x", t + timedelta(minutes=5), t).startswith(
        "Google's usage limit for a@x reached: writes paused until "
    )
    # a pause that ends another day names the day; the hour keeps its two digits
    night = datetime(2027, 3, 1, 23, 30).astimezone()
    line = pause_line("a@x", night + timedelta(hours=1), night)
    assert "writes paused until Mar 2 00:30;" in line, line


def test_backfill_under_the_usage_limit_waits_in_the_journal(mess: Mess, tmp_path: Path) -> None:
    m = mess
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan), "--batch-size", "4")
    m.sandbox.trip_usage_limit("bob@example.com")
    m.sandbox.reset_stats()
    t0 = clock.now()
    rows = _plan_rows(plan)
    # exit 1 with the sync's one line (writes/lockout.py pause_line) on stderr, JSON on
    # stdout; nothing lost: every row of the plan is still in the journal
    code, stdout, stderr = m.cli("migrate", "backfill", "--plan", str(plan), "--yes", "--json")
    assert code == 1, stderr
    lines = [line for line in stderr.splitlines() if not line.startswith("progress: ")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Google's usage limit for bob@example.com reached: writes paused")
    assert lines[0].endswith("nothing lost; run again later")
    out = json.loads(stdout)
    assert out["journal"]["failed"] == 0 and out["journal"]["pending"] > 0, out["journal"]
    assert out["journal"]["total"] == rows, out["journal"]
    assert out["progress"]["note"] == lines[0]
    assert (
        out["progress"]["paused"] and "usage limit for bob@example.com" in out["progress"]["note"]
    )
    assert int(m.sandbox.stats()["by_status"].get("403", 0)) <= 4  # one batch of bob's
    assert not out["gate"]["passed"]
    m.sandbox.clear_usage_limit("bob@example.com")
    with clock.moved_to(t0 + timedelta(minutes=61)):
        done = m.cli_json("migrate", "resume")
        assert done["journal"]["pending"] == 0 and done["journal"]["failed"] == 0, done
        assert done["gate"]["passed"], done["gate"]


def _plan_rows(plan: Path) -> int:
    """How many writes the saved plan holds."""
    from calsync_tui.migration.plan_file import read_plan

    return len(read_plan(plan).writes)


def test_backfill_under_the_usage_limit_exits_1_in_text_mode(mess: Mess, tmp_path: Path) -> None:
    """Without --json the same: the one line on stderr, exit 1, the rows wait."""
    m = mess
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan), "--batch-size", "4")
    m.sandbox.trip_usage_limit("bob@example.com")
    code, stdout, stderr = m.cli("migrate", "backfill", "--plan", str(plan), "--yes")
    assert code == 1, stdout + stderr
    usage = [line for line in stderr.splitlines() if line.startswith("Google's usage limit")]
    assert len(usage) == 1 and "nothing lost; run again later" in usage[0], stderr
    assert "pending" in stdout and "0 failed" in stdout, stdout
    with m.world.ctx.store.session() as s:
        left = s.exec(select(Mutation).where(Mutation.status == "pending")).all()
    assert left, "the unsent writes wait in the journal"
