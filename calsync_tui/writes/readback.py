"""Batched reads of events the write path needs to look at (one `get` per event).

Used to check whether a write in flight at a crash landed, by rollback level 2 to read
what it is about to restore, and by the migration to read series masters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from calsync_tui.google.types import Gateway, WriteCall, WriteResult


@dataclass(frozen=True)
class EventRef:
    """One event to read: `key` names it in the answer."""

    key: str
    calendar_google_id: str
    event_id: str


def read_events(
    gateway: Gateway, refs: Sequence[EventRef], *, batch_size: int
) -> dict[str, WriteResult]:
    """Read each event (batched); per key: ok with `event` (None when it is gone, status
    404), or not ok with Google's status and reason."""
    if not refs:
        return {}
    calls = [WriteCall(r.key, "get", r.calendar_google_id, r.event_id) for r in refs]
    return {res.key: res for res in gateway.execute(calls, batch_size=batch_size)}
