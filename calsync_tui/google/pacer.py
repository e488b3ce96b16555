"""Client-side pacing: stay under Google's per-user quota instead of bouncing off it.

A GCRA token bucket (virtual scheduling): each request costs `60 / rpm` seconds; a
burst of up to `burst` requests may go at once (default: 10 seconds' worth, so with the
default 500/min at most 583 requests fall in any 60-second window, under Google's 600). Each batch *part* is one request, as
Google counts it. One pacer per account, shared by all threads using that account.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Pacer:
    """Token bucket at `requests_per_minute`; `acquire(n)` blocks until n may go."""

    def __init__(
        self,
        requests_per_minute: int,
        *,
        burst: int | None = None,
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
        self._tat = clock()  # theoretical arrival time of the next request
        self.waited = 0.0

    def acquire(self, n: int = 1) -> float:
        """Reserve n requests; sleep until the first of them may be sent. Returns the wait."""
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


_PACERS: dict[tuple[str, str], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(account: str, api_root: str, requests_per_minute: int) -> Pacer:
    """The shared pacer of one account at one endpoint (made on first use)."""
    key = (account, api_root)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None or abs(pacer.interval - 60.0 / requests_per_minute) > 1e-9:
            pacer = Pacer(requests_per_minute)
            _PACERS[key] = pacer
        return pacer
