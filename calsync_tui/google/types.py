"""Values the gateway hands to the engine, and the interface the engine relies on.

Events are kept as Google's JSON dicts (`dict[str, Any]`): the engine reads the fields
it needs, and keeps the whole dict as the prior state for rollback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

GoogleEvent = dict[str, Any]


@dataclass(frozen=True)
class CalendarInfo:
    google_id: str
    summary: str
    time_zone: str
    access_role: str  # owner | writer | reader | freeBusyReader
    primary: bool = False


@dataclass
class EventPage:
    """Result of one full or incremental listing of a calendar (all pages followed)."""

    events: list[GoogleEvent]
    next_sync_token: str | None
    full: bool  # True when this was a full listing (first run or after 410 Gone)
    resynced_after_gone: bool = False  # a 410 forced a full listing


@dataclass(frozen=True)
class WriteCall:
    """One Google write. `key` maps the result back to the journal row."""

    key: str
    op: str  # insert | patch | update | delete | get
    calendar_id: str
    event_id: str
    body: GoogleEvent | None = None
    if_match: str | None = None


@dataclass
class WriteResult:
    key: str
    ok: bool
    status: int  # HTTP status of the part (200, 204, 409 adopted -> 200, ...)
    event: GoogleEvent | None = None
    reason: str | None = None  # Google's error reason (duplicate, rateLimitExceeded, ...)
    message: str | None = None
    already: bool = False  # 409 duplicate adopted, or 404/410 on delete: already in that state


@dataclass
class CallCounter:
    """API cost: quota units (each call, batched or not) and HTTP round trips."""

    calls: dict[str, int] = field(default_factory=dict)  # per method, e.g. events.list
    round_trips: int = 0
    batches: int = 0
    retries: int = 0

    @property
    def units(self) -> int:
        return sum(self.calls.values())

    def add(self, method: str, n: int = 1) -> None:
        self.calls[method] = self.calls.get(method, 0) + n

    def snapshot(self) -> dict[str, Any]:
        return {
            "units": self.units,
            "round_trips": self.round_trips,
            "batches": self.batches,
            "retries": self.retries,
            "calls": dict(self.calls),
        }


class Gateway(Protocol):
    """What the engine and migration need from Google, per account. Blocking calls."""

    counter: CallCounter

    def list_calendars(self) -> list[CalendarInfo]: ...

    def list_events(
        self,
        calendar_id: str,
        *,
        sync_token: str | None,
        time_min: str,
        time_max: str,
    ) -> EventPage: ...

    def get_event(self, calendar_id: str, event_id: str) -> GoogleEvent | None: ...

    def execute(
        self, calls: Sequence[WriteCall], *, batch_size: int = 50, stop_on_quota: bool = False
    ) -> list[WriteResult]:
        """Writes (and batched gets). `stop_on_quota`: a 403 quotaExceeded is final and
        stops the run (later calls answer `reason="notSent"`); the write path sets it."""
        ...
