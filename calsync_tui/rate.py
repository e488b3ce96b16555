"""The one rate and ETA of long work (backfill, cutover, rollback, a sync's writes).

A moving rate, not the first batch's: the first batch of a run is often far faster
than the rest (the pacer's burst allowance, a warm connection; seen: `940.8 writes/s,
ETA 0s`, then 17 writes/s), and a rate over the whole run reacts slowly when Google
starts throttling. `MovingRate` keeps an exponentially weighted moving average of the
writes and the seconds of recent batches (their ratio is writes/s, each batch weighed
by its size), seeded by the second batch (the first one only until the second comes),
and gives no ETA until it has seen `warmup` batches. Used by
`migration.journal` (the CLI's progress lines), the console's progress bar and the
`sync` command's progress line. Wall time is `time.monotonic` (durations only; domain
time stays with `clock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

ALPHA = 0.3  # weight of the newest batch: about the last 5-6 batches count
WARMUP = 2  # batches seen before an ETA is given


@dataclass
class MovingRate:
    """EWMA of writes/s over recent batches; `update(done)` after each batch."""

    alpha: float = ALPHA
    warmup: int = WARMUP
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)
    _last_t: float = field(default=-1.0, repr=False)
    _last_done: int = field(default=0, repr=False)
    _items: float = field(default=0.0, repr=False)
    _seconds: float = field(default=0.0, repr=False)
    batches: int = 0

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()
        self._last_t = self.started

    def start_at(self, done: int) -> None:
        """Where the run begins (a resumed run starts at its earlier writes)."""
        self._last_done = done

    def update(self, done: int) -> float:
        """Record the running total `done` (writes answered) now; returns the rate."""
        t = self.clock()
        items, seconds = done - self._last_done, max(t - self._last_t, 1e-6)
        if items <= 0:
            return self.rate
        if self.batches <= 1:  # the first batch seeds the rate; the second replaces it
            self._items, self._seconds = float(items), seconds
        else:
            a = self.alpha
            self._items = a * items + (1 - a) * self._items
            self._seconds = a * seconds + (1 - a) * self._seconds
        self.batches += 1
        self._last_t, self._last_done = t, done
        return self.rate

    @property
    def rate(self) -> float:
        """Writes per second over recent batches (0.0 before the first)."""
        return self._items / self._seconds if self.batches and self._seconds > 0 else 0.0

    def eta(self, left: int) -> float | None:
        """Seconds until `left` more writes are done; None while warming up."""
        return eta_seconds(left, self.rate if self.batches >= self.warmup else 0.0)


def eta_seconds(left: int, rate: float) -> float | None:
    """`left` writes at `rate` writes/s; None when no rate is known (0 when nothing is left)."""
    if left <= 0:
        return 0.0
    return left / rate if rate > 0 else None


def eta_text(seconds: float | None) -> str:
    """An ETA as a person reads it: `?`, `45s`, `3m 20s`, `1h 05m`."""
    if seconds is None:
        return "?"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"
