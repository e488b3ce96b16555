"""RFC 3339 and event start/end arithmetic in the event's (or calendar's) time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from calsync_tui.sandbox.errors import invalid


def zone(name: str | None, fallback: str = "UTC") -> tzinfo:
    try:
        return ZoneInfo(name or fallback)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(f"Invalid time zone definition: {name}") from None


def parse_rfc3339(value: str) -> datetime:
    """An aware datetime from RFC 3339 (an offset is required, as Google's query params need)."""
    text = value.strip()
    if len(text) > 19 and text[19:].startswith(" "):  # an unencoded "+" read as a space
        text = text[:19] + "+" + text[20:]
    elif "." in text[19:20] and " " in text[20:]:
        text = text.replace(" ", "+")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise bad_value(value) from None
    if dt.tzinfo is None:
        raise bad_value(value)
    return dt


def bad_value(value: str) -> Exception:
    return invalid(f"Bad value for time: {value!r}")


def format_utc(dt: datetime) -> str:
    """`2026-11-25T09:00:00.000Z`, the form Google uses for created/updated."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_local(dt: datetime) -> str:
    """`2026-11-25T10:00:00+01:00`: how Google echoes an event's dateTime."""
    return dt.isoformat(timespec="seconds")


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(f"Bad value for date: {value!r}") from None


def edge(when: Any, cal_tz: str, *, field_name: str) -> datetime:
    """The aware instant of an event's start or end dict (all-day: midnight in the calendar's zone)."""
    if not isinstance(when, dict):
        raise invalid(f"Missing {field_name} time.")
    if when.get("dateTime"):
        text = str(when["dateTime"])
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError:
            raise invalid(f"Invalid {field_name} time.") from None
        if dt.tzinfo is None:
            if not when.get("timeZone"):
                raise invalid(f"Missing time zone definition for {field_name} time.")
            dt = dt.replace(tzinfo=zone(str(when["timeZone"])))
        return dt
    if when.get("date"):
        d = parse_date(str(when["date"]))
        return datetime(d.year, d.month, d.day, tzinfo=zone(cal_tz))
    raise invalid(f"Missing {field_name} time.")


def is_all_day(when: Any) -> bool:
    return isinstance(when, dict) and bool(when.get("date")) and not when.get("dateTime")


def shift(when: dict[str, Any], delta: timedelta, *, tz: tzinfo | None) -> dict[str, Any]:
    """A start/end dict moved by `delta` (keeps all-day-ness and time zone)."""
    out = dict(when)
    if is_all_day(when):
        out["date"] = (parse_date(str(when["date"])) + delta).isoformat()
        return out
    dt = edge(when, "UTC", field_name="start")
    if tz is not None:
        dt = dt.astimezone(tz)
    out["dateTime"] = format_local(dt + delta)
    return out


def utc_stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
