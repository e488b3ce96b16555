"""The per-calendar write window: the client waits for a calendar's window instead of
being refused (403 rateLimitExceeded) and backing off. Fake clocks for the window's
arithmetic; the real gateway against the strict sandbox for what Google sees."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.oauth2.credentials import Credentials

from calsync_tui.errors import CalsyncError
from calsync_tui.google.backoff import RetryPolicy
from calsync_tui.google.gateway import GoogleGateway
from calsync_tui.google.pacer import CALENDAR_WINDOW, CALENDAR_WRITES, Pacer, calendar_writes_from
from calsync_tui.google.types import WriteCall
from calsync_tui.sandbox.quota import DEFAULT_BURST_WINDOW, DEFAULT_BURST_WRITES
from calsync_tui.sandbox.server import SandboxServer

ME = "me@example.com"
TOKEN = "token-me"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_a_calendar_never_gets_more_than_its_window_holds() -> None:
    clock = FakeClock()
    pacer = Pacer(
        10**6, burst=10**6, calendar_writes=30, calendar_window=10.0, clock=clock, sleep=clock.sleep
    )
    sent: list[tuple[float, str]] = []
    for i, size in enumerate([7, 13, 1, 25, 30, 9, 4, 18] * 3):
        cal = "a" if i % 3 else "b"
        pacer.acquire(size, writes_to=[cal] * size)
        sent.extend((clock.now, cal) for _ in range(size))
    for cal in ("a", "b"):
        times = [t for t, c in sent if c == cal]
        worst = max(sum(1 for t in times if start <= t < start + 10.0) for start in times)
        assert worst <= 30, (cal, worst)
    assert clock.sleeps, "the window made the client wait"
    assert pacer.calendar_waited == pytest.approx(sum(clock.sleeps))


def test_calendars_have_their_own_windows_and_gets_are_not_writes() -> None:
    clock = FakeClock()
    pacer = Pacer(
        10**6, burst=10**6, calendar_writes=10, calendar_window=60.0, clock=clock, sleep=clock.sleep
    )
    pacer.acquire(10, writes_to=["a"] * 10)
    pacer.acquire(10, writes_to=["b"] * 10)  # another calendar: no wait
    pacer.acquire(10)  # reads (gets) carry no calendar: no wait
    assert clock.now == 0.0
    clock.now = 5.0
    pacer.acquire(2, writes_to=["a", "b"])  # both full: wait for the oldest of each
    assert clock.now == pytest.approx(60.0)


def test_the_default_stays_within_the_sandbox_burst_and_can_be_turned_off() -> None:
    assert CALENDAR_WRITES <= DEFAULT_BURST_WRITES and CALENDAR_WINDOW > DEFAULT_BURST_WINDOW
    assert calendar_writes_from({}) == CALENDAR_WRITES
    assert calendar_writes_from({"calendar_writes_per_minute": "300"}) == 300
    assert calendar_writes_from({"calendar_writes_per_minute": 0}) is None
    with pytest.raises(CalsyncError):
        calendar_writes_from({"calendar_writes_per_minute": "fast"})


def _gateway(sandbox: SandboxServer, calendar_writes: int | None) -> GoogleGateway:
    return GoogleGateway(
        Credentials(token=TOKEN),  # type: ignore[no-untyped-call]
        sandbox.url,
        email=ME,
        kind="static",
        # Past Google's per-user pace (as the demo is), so only the calendar window paces.
        pacer=Pacer(10**6, burst=10**6, calendar_writes=calendar_writes, calendar_window=1.0),
        policy=RetryPolicy(base=0.05, cap=0.4, deadline=30.0, max_attempts=40),
    )


def _inserts(cal: str, n: int, tag: str) -> list[WriteCall]:
    return [
        WriteCall(
            f"{tag}{i}",
            "insert",
            cal,
            f"{tag}{i:05d}",
            {
                "summary": f"Busy {i}",
                "start": {"dateTime": "2026-03-02T09:00:00Z"},
                "end": {"dateTime": "2026-03-02T09:30:00Z"},
            },
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("calendar_writes", [15, None], ids=["paced", "unpaced"])
def test_writes_wait_for_the_calendar_instead_of_being_refused(
    sandbox: SandboxServer, calendar_writes: int | None
) -> None:
    """40 inserts to one calendar and 20 to another, in batches of 10, against a sandbox
    refusing the 21st write to a calendar within 1 s. Paced at 15 per calendar per second
    the client is never refused: 6 round trips, 60 writes, no part sent twice. Unpaced (the client before the
    window) parts are refused, re-sent and backed off."""
    sandbox.add_user(ME, TOKEN)
    a = sandbox.create_calendar(ME, "A")
    b = sandbox.create_calendar(ME, "B")
    sandbox.set_burst(20, timedelta(seconds=1))
    gw = _gateway(sandbox, calendar_writes)
    sandbox.reset_stats()
    calls = _inserts(a, 40, "a") + _inserts(b, 20, "b")
    results = gw.execute(calls, batch_size=10)
    assert all(r.ok for r in results)
    stats = sandbox.stats()
    if calendar_writes is not None:
        assert sandbox.burst.refused == 0
        assert stats["by_status"].get("403", 0) == 0
        # 6 batches; a whole batch the sandbox failed (503/429, seeded) is sent again
        envelopes = sandbox.batch_faults.failed
        assert stats["round_trips"] == 6 + envelopes and stats["writes"] == 60
        assert gw.counter.retries == 10 * envelopes
        assert gw.pacer.calendar_waited > 0
    else:
        assert sandbox.burst.refused > 0 and gw.counter.retries > 0
        assert stats["total"] > 60
