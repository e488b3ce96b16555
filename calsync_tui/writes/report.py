"""What one run of the write path did: counts per op, failures, what was touched."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class WriteReport:
    """Counts per op of done and failed writes, and what the caller reports on.

    `refused` are writes Google refused for good (remembered against their event, not
    failures: they count toward no error rate); `held` were not sent because such a
    refusal stands; `paused` maps an account to the time its writes are paused until
    (Google's usage limit) — its unsent writes stay `pending` in the journal.
    """

    total: int = 0
    done: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    skipped: int = 0
    held: int = 0
    settled: int = 0  # sent before (a crash), read back and found on Google: not resent
    errors: list[str] = field(default_factory=list)
    touched_sources: set[str] = field(default_factory=set)
    writes_by_calendar: Counter[str] = field(default_factory=Counter)
    failed_by_calendar: Counter[str] = field(default_factory=Counter)
    paused: dict[str, datetime] = field(default_factory=dict)
    stopped: bool = False  # the caller's stop/cancel ended the run early

    @property
    def done_total(self) -> int:
        return sum(self.done.values())

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())

    def merge(self, other: WriteReport) -> None:
        self.total += other.total
        self.done.update(other.done)
        self.failed.update(other.failed)
        self.refused.update(other.refused)
        self.skipped += other.skipped
        self.held += other.held
        self.errors.extend(other.errors)
        self.touched_sources |= other.touched_sources
        self.writes_by_calendar.update(other.writes_by_calendar)
        self.failed_by_calendar.update(other.failed_by_calendar)
        self.paused.update(other.paused)
        self.stopped = self.stopped or other.stopped
