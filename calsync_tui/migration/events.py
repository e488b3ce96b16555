"""Small readers over Google event dicts that the migration needs (times, titles, props).

Kept pure so linking and planning can be tested with plain dicts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from calsync_tui.google.types import GoogleEvent

# Fields Google rewrites on every write; ignored when comparing an event's content.
VOLATILE_FIELDS = frozenset({"etag", "updated", "sequence", "htmlLink", "created", "kind"})


def private_props(event: GoogleEvent) -> dict[str, str]:
    """`extendedProperties.private` as a dict (empty when absent or malformed)."""
    ext = event.get("extendedProperties")
    if not isinstance(ext, dict):
        return {}
    private = ext.get("private")
    if not isinstance(private, dict):
        return {}
    return {str(k): str(v) for k, v in private.items() if v is not None}


def _norm_time(value: Any) -> str:
    """One comparable string for a start/end: the UTC instant, or the all-day date."""
    if not isinstance(value, dict):
        return ""
    if value.get("date"):
        return f"date:{value['date']}"
    raw = value.get("dateTime")
    if not raw:
        return ""
    try:
        parsed = datetime.fromisoformat(str(raw))
    except ValueError:
        return f"raw:{raw}"
    if parsed.tzinfo is None:
        return f"naive:{parsed.isoformat()}"
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_key(event: GoogleEvent) -> tuple[str, str]:
    """(start, end) normalised, so a block and its source compare equal across time zones."""
    return _norm_time(event.get("start")), _norm_time(event.get("end"))


def title(event: GoogleEvent) -> str:
    return str(event.get("summary") or "")


def original_start(event: GoogleEvent) -> str:
    """The instance's `originalStartTime` as Google gives it (dateTime or date)."""
    ost = event.get("originalStartTime")
    if not isinstance(ost, dict):
        return ""
    return str(ost.get("dateTime") or ost.get("date") or "")


def content(event: GoogleEvent | None) -> dict[str, Any]:
    """The event without fields Google rewrites on each write (for exact comparisons)."""
    if event is None:
        return {}
    return {k: v for k, v in event.items() if k not in VOLATILE_FIELDS}
