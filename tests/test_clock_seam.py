"""The one clock: domain time comes from `calsync_tui.clock`, and tests can move it."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calsync_tui import clock
from local_store.models import utcnow

ROOT = Path(__file__).resolve().parents[1]
# Reading the wall clock for domain time anywhere but clock.py is the bug this guards.
WALL_CLOCK = re.compile(r"datetime\.(now|utcnow|today)\(|\btime\.time\(|\bdate\.today\(")
# The sandbox plays Google, whose clock is not ours (it has its own, movable by control).
EXEMPT = {ROOT / "calsync_tui" / "clock.py"}
EXEMPT_DIRS = {ROOT / "calsync_tui" / "sandbox"}


def test_no_module_reads_the_wall_clock_for_domain_time() -> None:
    offenders = []
    for top in ("calsync_tui", "local_store"):
        for path in (ROOT / top).rglob("*.py"):
            if path in EXEMPT or any(d in path.parents for d in EXEMPT_DIRS):
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if WALL_CLOCK.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == [], "use calsync_tui.clock.now():\n" + "\n".join(offenders)


def test_advance_moves_domain_time_and_store_defaults() -> None:
    start = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)
    with clock.moved_to(start, frozen=True):
        assert clock.now() == start
        clock.advance(timedelta(days=6))
        assert clock.now() == start + timedelta(days=6)
        assert utcnow() == start + timedelta(days=6)  # row timestamps follow the clock
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)


def test_running_clock_keeps_running_after_set_now() -> None:
    start = datetime(2030, 5, 1, tzinfo=UTC)
    with clock.moved_to(start):
        first = clock.now()
        second = clock.now()
        assert start <= first <= second < start + timedelta(minutes=1)


def test_child_process_starts_at_calsync_now() -> None:
    code = "from calsync_tui import clock; print(clock.now().isoformat())"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"CALSYNC_NOW": "2027-03-01T08:00:00Z", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    seen = datetime.fromisoformat(out)
    assert timedelta(0) <= seen - datetime(2027, 3, 1, 8, 0, tzinfo=UTC) < timedelta(minutes=1)


def test_bad_calsync_now_is_one_line_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import calsync_tui.clock"],
        env={"CALSYNC_NOW": "next tuesday", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("calsync-tui: CALSYNC_NOW=")
