"""Batched reads of events the write path needs to look at (one `get` per event).

Used to check whether a write in flight at a crash landed (`landed`: judged from the
event read back; the executor settles such rows before sending the rest), by rollback level 2 to read
what it is about to restore, and by the migration to read series masters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from calsync_tui.google.types import Gateway, GoogleEvent, WriteCall, WriteResult
from calsync_tui.writes.record import Record

# Fields Google rewrites on every write: never part of "is this patch on the event".
_VOLATILE = frozenset({"etag", "updated", "sequence", "htmlLink", "created", "kind"})


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


def _private(event: GoogleEvent) -> dict[str, Any]:
    ext = event.get("extendedProperties")
    private = ext.get("private") if isinstance(ext, dict) else None
    return (
        {str(k): v for k, v in private.items() if v is not None}
        if isinstance(private, dict)
        else {}
    )


def applied(body: GoogleEvent, event: GoogleEvent | None) -> bool:
    """Whether the patch `body` is already reflected in `event` (null keys = absent)."""
    if event is None or event.get("status") == "cancelled":
        return False
    for key, want in body.items():
        if key == "extendedProperties" and isinstance(want, dict):
            have = _private(event)
            if want.get("private") is None and "private" in want:
                if have:
                    return False
                continue
            for k, v in (want.get("private") or {}).items():
                if (v is None and k in have) or (v is not None and str(have.get(k)) != str(v)):
                    return False
        elif want is None:
            if event.get(key) not in (None, {}, []):
                return False
        elif key not in _VOLATILE and event.get(key) != want:
            return False
    return True


def landed(record: Record, event: GoogleEvent | None) -> bool:
    """Whether the write `record` is already on Google, judged from the event read back
    (None: gone): an insert's event exists, a delete's is gone, a patch or update's
    content is on the event."""
    if record.write.call == "insert":
        return event is not None and event.get("status") != "cancelled"
    if record.write.call == "delete":
        return event is None or event.get("status") == "cancelled"
    return applied(record.body or {}, event)
