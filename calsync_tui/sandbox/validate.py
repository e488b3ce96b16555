"""Event body checks and normalisation, with the 400 messages Google answers."""

from __future__ import annotations

import re
from typing import Any

from calsync_tui.sandbox import recurrence
from calsync_tui.sandbox.errors import invalid
from calsync_tui.sandbox.times import edge, format_local, is_all_day, zone

EVENT_ID = re.compile(r"^[0-9a-v]{5,1024}$")
EVENT_TYPES = frozenset(
    {"default", "outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail"}
)
STATUSES = frozenset({"confirmed", "tentative", "cancelled"})
TRANSPARENCY = frozenset({"opaque", "transparent"})
VISIBILITY = frozenset({"default", "public", "private", "confidential"})
RESPONSES = frozenset({"needsAction", "declined", "tentative", "accepted"})
MAX_KEY = 44
MAX_VALUE = 1024
# Fields the server owns: whatever a client sends for them is ignored.
READ_ONLY = frozenset({"kind", "etag", "htmlLink", "created", "updated", "creator", "sequence"})


def check_id(event_id: str) -> None:
    if not EVENT_ID.match(event_id):
        raise invalid("Invalid resource id value.")


def limit_properties(ext: Any) -> dict[str, Any]:
    """Google's silent limits: keys over 44 chars dropped, values over 1024 chars truncated."""
    if ext is None:
        return {}
    if not isinstance(ext, dict):
        raise invalid("Invalid value for extendedProperties.")
    out: dict[str, Any] = {}
    for scope in ("private", "shared"):
        props = ext.get(scope)
        if props is None:
            continue
        if not isinstance(props, dict):
            raise invalid(f"Invalid value for extendedProperties.{scope}.")
        kept: dict[str, str] = {}
        for key, value in props.items():
            if value is None or len(str(key)) > MAX_KEY:
                continue
            if not isinstance(value, str):
                value = str(value).lower() if isinstance(value, bool) else str(value)
            kept[str(key)] = value[:MAX_VALUE]
        if len(kept) > 300:
            raise invalid("Too many extended properties.")
        out[scope] = kept
    return out


def check_times(body: dict[str, Any], cal_tz: str) -> None:
    start, end = body.get("start"), body.get("end")
    if not start:
        raise invalid("Missing start time.")
    if not end:
        raise invalid("Missing end time.")
    if is_all_day(start) != is_all_day(end):
        raise invalid("Start and end times must either both be date or both be dateTime.")
    for key in ("start", "end"):
        tzname = body[key].get("timeZone")
        if tzname:
            zone(tzname)
    s = edge(start, cal_tz, field_name="start")
    e = edge(end, cal_tz, field_name="end")
    if e < s or (is_all_day(start) and e == s):
        raise invalid("The specified time range is empty.")
    for key, instant in (("start", s), ("end", e)):
        when = body[key]
        if when.get("dateTime") and not _has_offset(str(when["dateTime"])):
            # Google never answers a dateTime without its offset
            body[key] = {**when, "dateTime": format_local(instant)}


def _has_offset(text: str) -> bool:
    tail = text[10:]
    return tail.endswith(("Z", "z")) or "+" in tail or "-" in tail


def check_event(
    body: dict[str, Any],
    cal_tz: str,
    *,
    previous_type: str | None,
    creating: bool,
) -> dict[str, Any]:
    """A cleaned copy of `body`, or 400 invalid with Google's message."""
    if not isinstance(body, dict):
        raise invalid("Invalid event body.")
    clean = {k: v for k, v in body.items() if k not in READ_ONLY and not k.startswith("_")}
    event_type = clean.get("eventType") or previous_type or "default"
    if event_type not in EVENT_TYPES:
        raise invalid(f"Invalid event type: {event_type}")
    if previous_type is not None and event_type != previous_type:
        raise invalid("The event type cannot be changed.")
    if creating and event_type == "fromGmail":
        raise invalid("Cannot create events of type fromGmail.")
    clean["eventType"] = event_type
    status = clean.get("status") or "confirmed"
    if status not in STATUSES:
        raise invalid(f"Invalid value for status: {status}")
    clean["status"] = status
    if clean.get("transparency") is not None and clean["transparency"] not in TRANSPARENCY:
        raise invalid(f"Invalid value for transparency: {clean['transparency']}")
    if clean.get("visibility") is not None and clean["visibility"] not in VISIBILITY:
        raise invalid(f"Invalid value for visibility: {clean['visibility']}")
    for att in clean.get("attendees") or []:
        if not isinstance(att, dict) or not att.get("email"):
            raise invalid("Missing attendee email.")
        if att.get("responseStatus", "needsAction") not in RESPONSES:
            raise invalid(f"Invalid attendee responseStatus: {att.get('responseStatus')}")
    for key in ("summary", "description", "location"):
        if clean.get(key) is not None and not isinstance(clean[key], str):
            raise invalid(f"Invalid value for {key}.")
    check_times(clean, cal_tz)
    if clean.get("recurrence"):
        if not isinstance(clean["recurrence"], list):
            raise invalid("Invalid recurrence rule.")
        recurrence.validate(clean)
    if "extendedProperties" in clean:
        props = limit_properties(clean["extendedProperties"])
        if props:
            clean["extendedProperties"] = props
        else:
            clean.pop("extendedProperties")
    return clean
