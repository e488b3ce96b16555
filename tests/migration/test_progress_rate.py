"""Issue 16: the backfill ETA comes from a moving rate, not the first batch (seen:
`940.8 writes/s, ETA 0s`, then 17 writes/s). One estimator (`calsync_tui.rate`) serves
the CLI's progress lines, the console's bar and `sync`'s progress line.

The run is real (sandbox over HTTP, real SQLite): the first batch is answered at once,
then the sandbox adds latency to every round trip, as a throttled Google does."""

from __future__ import annotations

import time
from pathlib import Path

from calsync_tui.migration import service
from calsync_tui.migration.journal import Progress
from calsync_tui.rate import MovingRate, eta_text
from calsync_tui.screens.migration import ProgressTracker
from tests.migration.conftest import Mess

LATENCY_MS = 120


def _plan(m: Mess, tmp_path: Path) -> Path:
    assert m.cli("migrate", "discover")[0] == 0
    assert m.cli("migrate", "prepare")[0] == 0
    plan = tmp_path / "plan.json"
    assert m.cli("migrate", "plan", "--out", str(plan), "--batch-size", "2")[0] == 0
    return plan


def test_backfill_eta_follows_the_recent_rate_not_the_first_batch(
    mess: Mess, tmp_path: Path
) -> None:
    m = mess
    plan = _plan(m, tmp_path)
    seen: list[tuple[float, Progress]] = []

    def on_progress(p: Progress) -> None:
        seen.append((time.monotonic(), p))
        if len(seen) == 1:  # Google slows down after the first batch
            m.sandbox.set_faults(f"latency_ms={LATENCY_MS}")

    out = service.backfill(m.env(), plan, progress=on_progress)
    m.sandbox.set_faults(None)
    end = time.monotonic()
    assert out.journal.failed == 0 and out.journal.pending == 0
    assert len(seen) >= 6
    first = seen[0][1]
    # one fast batch says nothing about the rest: no "ETA 0s"
    assert first.eta_seconds is None and "ETA ?" in first.line()
    # from the third batch on the ETA is the time the run really still took (±50%, and
    # a round trip: the last batch may hold one write and still cost a whole one)
    trip = LATENCY_MS / 1000
    for at, p in seen[2:-1]:
        assert p.eta_seconds is not None
        actual = end - at
        assert 0.5 * actual - trip <= p.eta_seconds <= 1.5 * actual + trip, (p.line(), actual)
    # the rate shown is the recent one (2 writes per slowed round trip), not the average
    slow = 2 / (LATENCY_MS / 1000)
    assert seen[-2][1].rate < 1.6 * slow, seen[-2][1].line()


def test_one_estimator_for_the_console_bar() -> None:
    """The console's tracker reads the same moving rate: its first sample is the
    baseline, and a fast first batch never gives an ETA of zero."""
    t = [0.0]
    posted: list[tuple[float, float | None]] = []
    tracker = ProgressTracker("backfill", lambda msg: posted.append((msg.rate, msg.eta_s)))
    tracker.meter = MovingRate(clock=lambda: t[0])
    tracker.meter.start_at(0)
    for done, at in ((50, 0.05), (67, 1.05), (84, 2.05), (101, 3.05)):
        t[0] = at
        tracker(done, 500)
    assert posted[0][1] is None  # one batch: no ETA yet
    rate, eta = posted[-1]
    assert abs(rate - 17) < 0.5 and eta is not None and abs(eta - (500 - 101) / 17) < 1
    assert eta_text(eta) == "23s" and eta_text(None) == "?" and eta_text(3725) == "1h 02m"
