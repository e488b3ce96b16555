"""Readers over Google event dicts: times, private properties, content digests.

Pure helpers shared by classify, plan, cycle and the invariant checker, so every part
reads an event's times and properties the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync_tui.engine.model import KEY_ID, KEY_INSTANCE, KEY_SOURCE, KEY_TYPE, KEY_VERSION
from calsync_tui.google.types import GoogleEvent

CALSYNC_KEYS = (KEY_ID, KEY_TYPE, KEY_SOURCE, KEY_VERSION, KEY_INSTANCE)
# Fields Google rewrites on every write; ignored when comparing an event's content.
VOLATILE_FIELDS = frozenset({"etag", "updated", "sequence", "htmlLink", "created", "kind"})
BLOCK_DESCRIPTION = "Busy block mirrored by calsync-tui"


class BadEventData(ValueError):
    """An event field is malformed; the message says which and why."""


@dataclass(frozen=True)
class When:
    """One parsed start or end: all-day date or an aware instant, plus its time zone."""

    all_day: bool
    raw: str  # the `date` or `dateTime` string as Google gave it
    utc: datetime
    time_zone: str | None

    def to_google(self) -> dict[str, str]:
        if self.all_day:
            return {"date": self.raw}
        out = {"dateTime": self.raw}
        if self.time_zone:
            out["timeZone"] = self.time_zone
        return out

    def key(self) -> str:
        """Comparable form: the date for all-day, else the UTC instant (offset-independent)."""
        return f"date:{self.raw}" if self.all_day else self.utc.isoformat()


def parse_when(value: Any, what: str) -> When:
    """Parse a Google `start`/`end` dict; BadEventData when it is unusable."""
    if not isinstance(value, dict):
        raise BadEventData(f"{what} is missing")
    tz = value.get("timeZone")
    tz = str(tz) if isinstance(tz, str) and tz else None
    if value.get("date"):
        return _parse_date(str(value["date"]), tz, what)
    if value.get("dateTime"):
        return _parse_datetime(str(value["dateTime"]), tz, what)
    raise BadEventData(f"{what} has neither date nor dateTime")


@lru_cache(maxsize=65536)
def _parse_date(raw: str, tz: str | None, what: str) -> When:
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadEventData(f"{what}.date {raw!r} is not a date") from None
    return When(True, raw, datetime.combine(day, time(0), tzinfo=UTC), tz)


@lru_cache(maxsize=65536)
def _parse_datetime(raw: str, tz: str | None, what: str) -> When:
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadEventData(f"{what}.dateTime {raw!r} is not RFC 3339") from None
    if parsed.tzinfo is None:
        raise BadEventData(f"{what}.dateTime {raw!r} has no offset")
    return When(False, raw, parsed.astimezone(UTC), tz)


def when_key(value: Any) -> str:
    """`When.key()` of a Google start/end dict; "" when it is unusable."""
    try:
        return parse_when(value, "t").key()
    except BadEventData:
        return ""


def stored_when(raw: str, all_day: bool, time_zone: str | None) -> dict[str, str]:
    """A start/end as Google writes it, from the EventState columns (`time_columns`)."""
    if all_day:
        return {"date": raw}
    return {"dateTime": raw, **({"timeZone": time_zone} if time_zone else {})}


def stored_outside(row: Any, span: tuple[datetime, datetime], zone: str | None = None) -> bool:
    """Is a stored row (`time_columns`) wholly outside a listing's [timeMin, timeMax)?
    Google lists an event when its end is after timeMin and its start before timeMax, so
    a row outside the span is no evidence either way when a listing lacks it. Rows
    whose times can't be read count as inside (the listing decides about them).
    `zone` is the calendar's: an all-day event begins and ends at its midnights there
    (`start_key`), which is how Google compares it with timeMin/timeMax."""
    all_day, tz = bool(row.get("all_day")), row.get("time_zone")
    try:
        start = parse_when(stored_when(row.get("start") or "", all_day, tz), "start")
        end = parse_when(stored_when(row.get("end") or "", all_day, tz), "end")
    except BadEventData:
        return False
    return outside(start, end, span, zone)


def outside(start: When, end: When, span: tuple[datetime, datetime], zone: str | None) -> bool:
    """Is [start, end) wholly outside [span[0], span[1])? All-day times are compared at
    their midnights in the calendar's `zone` (`start_key`), as Google compares them."""
    return start_key(start, zone) >= span[1] or start_key(end, zone) <= span[0]


def parse_times(event: GoogleEvent) -> tuple[When, When]:
    """Start and end of an event, checked: same all-day-ness and end after start."""
    start = parse_when(event.get("start"), "start")
    end = parse_when(event.get("end"), "end")
    if start.all_day != end.all_day:
        raise BadEventData("start and end mix an all-day date with a dateTime")
    if end.utc <= start.utc:
        raise BadEventData("end is not after start")
    return start, end


@lru_cache(maxsize=4096)
def local_midnight(day: str, zone: str | None) -> datetime | None:
    """The instant a date begins in `zone` (UTC when the zone is unknown), in UTC."""
    try:
        tz: Any = ZoneInfo(zone) if zone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    try:
        return datetime.combine(date.fromisoformat(day), time(0), tzinfo=tz).astimezone(UTC)
    except ValueError:
        return None


def start_key(start: When, zone: str | None) -> datetime:
    """The instant an event starts as a person sees it on a calendar in `zone`: a timed
    event's own instant; an all-day event's date at midnight in that zone (Google's rule
    for all-day events), so lists ordered by it put an all-day 11-26 after 11-25 21:45."""
    if start.all_day:
        return local_midnight(start.raw, zone) or start.utc
    return start.utc


def time_columns(event: GoogleEvent, zone: str | None = None) -> dict[str, Any]:
    """An event's times as the EventState columns store them (`{}` when malformed), so the
    engine, the executor and the migration's links all write the same form. `zone` is
    the calendar's time zone: `start_utc` is `start_key` (the order lists show)."""
    try:
        start, end = parse_times(event)
    except BadEventData:
        return {}
    return {
        "start": start.raw,
        "end": end.raw,
        "start_utc": start_key(start, zone),
        "all_day": start.all_day,
        "time_zone": start.time_zone,
    }


def original_start_key(event: GoogleEvent) -> str | None:
    """`originalStartTime` of a recurring instance in a stable form (UTC instant or date)."""
    ost = event.get("originalStartTime")
    if not isinstance(ost, dict):
        return None
    try:
        return parse_when(ost, "originalStartTime").key()
    except BadEventData:
        return None


def same_event_key(event: GoogleEvent) -> str | None:
    """What copies of one meeting on different calendars share: `iCalUID`, plus the
    `originalStartTime` for one instance of a series (instances share the iCalUID)."""
    uid = event.get("iCalUID")
    if not isinstance(uid, str) or not uid:
        return None
    if event.get("recurringEventId"):
        ost = original_start_key(event)
        return None if ost is None else f"{uid}|{ost}"
    return uid


def private_props(event: GoogleEvent) -> dict[str, str]:
    """`extendedProperties.private`; BadEventData when present but not a str->str map.

    The one reader of our properties (engine, migration, tests): a non-string value is
    malformed data, so the event classifies as `error` and is never written (DESIGN §3),
    rather than being coerced into something that looks like ours."""
    ext = event.get("extendedProperties")
    if ext is None:
        return {}
    if not isinstance(ext, dict):
        raise BadEventData("extendedProperties is not an object")
    private = ext.get("private")
    if private is None:
        return {}
    if not isinstance(private, dict):
        raise BadEventData("extendedProperties.private is not an object")
    out: dict[str, str] = {}
    for k, v in private.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise BadEventData(f"extendedProperties.private[{k!r}] is not a string")
        out[k] = v
    return out


def safe_private_props(event: GoogleEvent) -> dict[str, str]:
    """Like `private_props` but never raises (empty on garbage)."""
    try:
        return private_props(event)
    except BadEventData:
        return {}


def title_of(event: GoogleEvent) -> str:
    summary = event.get("summary")
    return summary if isinstance(summary, str) else ""


def content(event: GoogleEvent | None) -> dict[str, Any]:
    """The event without fields Google rewrites on each write (for exact comparisons)."""
    if event is None:
        return {}
    return {k: v for k, v in event.items() if k not in VOLATILE_FIELDS}


def _norm_time(value: Any) -> str:
    """One comparable string for a start/end: the UTC instant, or the all-day date;
    malformed values stay distinct (`raw:`/`naive:`) so two never compare equal by accident."""
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


def _when_digest(value: Any) -> list[str]:
    try:
        parsed = parse_when(value, "t")
    except BadEventData:
        return ["bad", json.dumps(value, sort_keys=True, default=str)]
    return [parsed.key(), parsed.time_zone or ""]


def mirror_digest(event: GoogleEvent) -> str:
    """Hash of every field a busy block must keep as the engine wrote it.

    Equal digests for a block on Google and its desired body mean nothing to patch;
    representation differences Google introduces (offsets, absent defaults) are folded.
    """
    props = safe_private_props(event)
    reminders = event.get("reminders")
    rem = reminders if isinstance(reminders, dict) else {}
    attendees = event.get("attendees")
    parts = [
        event.get("status") or "confirmed",
        title_of(event),
        event.get("description") or "",
        *_when_digest(event.get("start")),
        *_when_digest(event.get("end")),
        event.get("transparency") or "opaque",
        event.get("visibility") or "default",
        str(len(attendees) if isinstance(attendees, list) else 0),
        str(bool(rem.get("useDefault", True))),
        str(len(rem.get("overrides") or [])),
        *(props.get(k, "") for k in CALSYNC_KEYS),
    ]
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def title_digest(title: str) -> str:
    return hashlib.sha256(title.encode()).hexdigest()[:32]
