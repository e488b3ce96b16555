"""Client-side pacing: stay under Google's limits instead of bouncing off them.

Per account, a GCRA token bucket (virtual scheduling): each request costs `60 / rpm`
seconds; a burst of up to `burst` requests may go at once (default: 10 seconds' worth, so
with the default 500/min at most 583 requests fall in any 60-second window, under Google's
600). Each batch *part* is one request, as Google counts it. One pacer per account, shared
by all threads using that account.

Per calendar, a sliding window on writes (`CalendarWindow`): at most `calendar_writes`
writes to one calendar in any `calendar_window` seconds. Google rate-limits "a single
calendar" written "in quick succession" (Calendar API guide, Manage quotas: operational
limits; Handle API errors: 403 rateLimitExceeded, "maximum request rate per calendar")
and publishes no number; the sandbox models 1,000 writes per 60 s (sandbox/quota.py), and
so does this default, with 2 s more window for the time a write takes from leaving here
to being counted there. Below the model the cap costs time for nothing: a calendar
written in one run (the plan sends calendar after calendar) waits a whole window where
Google's count would have let it through. At the default 500 requests/min it never binds
(a calendar gets at most its account's requests); it binds when `requests_per_minute` is
raised past Google's quota (the demo's 10,000): a calendar's writes then wait for its
window instead of being refused and retried after a backoff that overshoots the window
(measured on the 10k demo's first cycle: 80-100 refused parts and 13-25 s of backoff
past the window; benchmarks/first_cycle.py).
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence

CALENDAR_WRITES = 1000
CALENDAR_WINDOW = 62.0


class CalendarWindow:
    """At most `writes` writes to one calendar in any `window` seconds (send time)."""

    def __init__(
        self,
        writes: int | None = CALENDAR_WRITES,
        window: float = CALENDAR_WINDOW,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if writes is not None and writes < 1:
            raise ValueError("calendar writes per window must be >= 1 (or None: no limit)")
        self.writes = writes
        self.window = window
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def wait_for(self, calendar_ids: Sequence[str]) -> float:
        """Seconds until every calendar can take its share of `calendar_ids` (one entry
        per write part). A calendar asked for more than `writes` at once waits for an
        empty window (its extra parts may then be refused; batches are smaller)."""
        if self.writes is None or not calendar_ids:
            return 0.0
        now = self._clock()
        wait = 0.0
        for cal, n in Counter(calendar_ids).items():
            q = self._sent.get(cal)
            if not q:
                continue
            while q and q[0] <= now - self.window:
                q.popleft()
            over = len(q) + min(n, self.writes) - self.writes
            if over > 0:  # the `over`-th oldest write must leave the window first
                wait = max(wait, q[over - 1] + self.window - now)
        return wait

    def record(self, calendar_ids: Sequence[str]) -> None:
        if self.writes is None:
            return
        now = self._clock()
        for cal in calendar_ids:
            self._sent.setdefault(cal, deque()).append(now)


class Pacer:
    """Token bucket at `requests_per_minute`; `acquire(n)` blocks until n may go.
    `acquire(n, writes_to=[calendar id per write part])` also waits for each calendar's
    write window (`CalendarWindow`) first."""

    def __init__(
        self,
        requests_per_minute: int,
        *,
        burst: int | None = None,
        calendar_writes: int | None = CALENDAR_WRITES,
        calendar_window: float = CALENDAR_WINDOW,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_minute < 1:
            raise ValueError("requests_per_minute must be >= 1")
        self.interval = 60.0 / requests_per_minute
        self.burst = burst if burst is not None else max(1, requests_per_minute // 6)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._calendar_lock = threading.Lock()
        self._tat = clock()  # theoretical arrival time of the next request
        self.calendars = CalendarWindow(calendar_writes, calendar_window, clock=clock)
        self.waited = 0.0
        self.calendar_waited = 0.0

    def acquire(self, n: int = 1, *, writes_to: Sequence[str] = ()) -> float:
        """Reserve n requests; sleep until the first of them may be sent. Returns the wait."""
        if not writes_to or self.calendars.writes is None:
            return self._bucket(n)
        # The calendar window first: a request reserved in the bucket and then held back
        # here would leave the bucket's slots unused and let a burst follow. The writes
        # are recorded once both waits are over (when they go out).
        with self._calendar_lock:  # one batch at a time waits for its calendars
            waited = self.calendars.wait_for(writes_to)
            if waited > 0:
                self._sleep(waited)
                self.calendar_waited += waited
            waited += self._bucket(n)
            self.calendars.record(writes_to)
        return waited

    def _bucket(self, n: int) -> float:
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now)
            # The whole batch must fit in the bucket (capacity `burst`, or n for a bigger
            # batch, which then waits for an idle bucket): in any window of T seconds at
            # most max(burst, n) + T * rate requests go out.
            capacity = max(self.burst, n)
            wait = max(0.0, tat + (n - capacity) * self.interval - now)
            self._tat = tat + n * self.interval
        if wait > 0:
            self._sleep(wait)
            self.waited += wait
        return wait


def calendar_writes_from(extra: dict[str, object]) -> int | None:
    """`Settings.extra["calendar_writes_per_minute"]`: the per-calendar write cap
    (default 1,000 per 62 s; 0 turns it off)."""
    raw = extra.get("calendar_writes_per_minute")
    if raw is None:
        return CALENDAR_WRITES
    try:
        value = int(str(raw))
    except ValueError:
        from calsync_tui.errors import CalsyncError

        raise CalsyncError(
            "setting extra.calendar_writes_per_minute must be a whole number"
        ) from None
    return value if value > 0 else None


_PACERS: dict[tuple[str, str], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(
    account: str,
    api_root: str,
    requests_per_minute: int,
    calendar_writes: int | None = CALENDAR_WRITES,
) -> Pacer:
    """The shared pacer of one account at one endpoint (made on first use)."""
    key = (account, api_root)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if (
            pacer is None
            or abs(pacer.interval - 60.0 / requests_per_minute) > 1e-9
            or pacer.calendars.writes != calendar_writes
        ):
            pacer = Pacer(requests_per_minute, calendar_writes=calendar_writes)
            _PACERS[key] = pacer
        return pacer
