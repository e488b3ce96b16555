"""The CLI's progress line for long work, on stderr (never on stdout, so `--json` stays
clean): a sync reading calendars and sending its writes.

On a terminal one line is redrawn in place, at most a few times a second. When stderr
is not a terminal (a log, a pipe) a line is printed only when the work is long: every
`log_every` seconds, so a short run prints nothing and a 30-second one a line or two.
The rate and ETA are `calsync_tui.rate`'s (a moving rate over recent batches).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import IO, Any

from calsync_tui.engine.events import CalendarRead, CycleDone, CycleStarted, MutationsProgress
from calsync_tui.rate import MovingRate, eta_text


class SyncProgress:
    """An `on_event` sink for `run_cycle` that prints where a cycle stands."""

    def __init__(
        self,
        stream: IO[str] | None = None,
        *,
        tty: bool | None = None,
        redraw_every: float = 0.25,
        log_every: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        prefix: Callable[[], str] = lambda: "",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = redraw_every if self.tty else log_every
        self.clock = clock
        self.prefix = prefix
        self.started = clock()
        self.last = self.started
        self.calendars = 0
        self.read = 0
        self.events = 0
        self.done = 0
        self.total = 0
        self.meter: MovingRate | None = None
        self.drawn = False  # a redrawable line is on screen (tty)

    def __call__(self, event: Any) -> None:
        if isinstance(event, CycleStarted):
            self.calendars = event.calendars
        elif isinstance(event, CalendarRead):
            self.read += 1
            self.events += event.events
        elif isinstance(event, MutationsProgress):
            self.done, self.total = event.done, event.total
            if self.meter is None:  # the first batch's answer is the baseline
                self.meter = MovingRate(clock=self.clock)
                self.meter.start_at(event.done)
            else:
                self.meter.update(event.done)
        elif isinstance(event, CycleDone):
            self.finish()
            return
        self._maybe_print()

    def line(self) -> str:
        """Where the cycle stands, in one line."""
        parts = [f"read {self.read}/{self.calendars} calendar(s), {self.events:,} event(s)"]
        if self.total:
            meter = self.meter
            rate = f"{meter.rate:.1f} writes/s" if meter and meter.batches else "… writes/s"
            eta = meter.eta(self.total - self.done) if meter else None
            parts.append(f"writes {self.done:,}/{self.total:,}, {rate}, ETA {eta_text(eta)}")
        parts.append(f"{self.clock() - self.started:.0f}s")
        return f"{self.prefix()}sync: " + " · ".join(parts)

    def _maybe_print(self) -> None:
        now = self.clock()
        if now - self.last < self.every:
            return
        self.last = now
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line())
            self.drawn = True
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def finish(self) -> None:
        """Clear the redrawn line (the cycle's summary follows on stdout)."""
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.drawn = False
