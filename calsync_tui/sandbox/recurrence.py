"""RRULE/EXDATE expansion into Google-shaped instances (python-dateutil does the rule maths).

Instance ids follow Google: `{masterId}_{YYYYMMDDTHHMMSSZ}` (UTC) for timed series and
`{masterId}_{YYYYMMDD}` for all-day ones; each instance carries `recurringEventId` and
`originalStartTime`. Stored exceptions (same id) replace or cancel single instances.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrule, rrulestr

from calsync_tui.sandbox.errors import invalid
from calsync_tui.sandbox.jsondata import clone
from calsync_tui.sandbox.times import edge, format_local, is_all_day, parse_date, zone

MAX_INSTANCES = 2000  # per series per query: an unbounded series is cut off, as Google does
DEFAULT_HORIZON = timedelta(days=730)
# An incremental singleEvents listing returns a changed unbounded series' first 730
# instances (reports: 730 daily instances, ~700 weekly ones into 2040;
# garrytan/gbrain#5015, KeepSoftwareSimple/compass-calendar#797).
FAR_CAP = 730


def _rules(master: dict[str, Any], dtstart: datetime) -> tuple[list[rrule], set[datetime]]:
    rules: list[rrule] = []
    exdates: set[datetime] = set()
    for line in master.get("recurrence") or []:
        text = str(line).strip()
        head, _, values = text.partition(":")
        name, *params = head.split(";")
        name = name.upper()
        if name == "RRULE":
            try:
                parsed = rrulestr(text, dtstart=dtstart, forceset=False)
            except (ValueError, TypeError) as exc:
                raise invalid(f"Invalid recurrence rule: {exc}") from None
            if not isinstance(parsed, rrule):
                raise invalid("Invalid recurrence rule.")
            rules.append(parsed)
        elif name == "EXDATE":
            exdates.update(_exdates(params, values, dtstart))
        elif name in ("RDATE", "EXRULE"):
            continue
        else:
            raise invalid(f"Invalid recurrence rule: {text}")
    return rules, exdates


def _exdates(params: list[str], values: str, dtstart: datetime) -> Iterator[datetime]:
    tz = dtstart.tzinfo
    is_date = any(p.upper() == "VALUE=DATE" for p in params)
    for p in params:
        if p.upper().startswith("TZID="):
            tz = ZoneInfo(p[5:])
    for raw in values.split(","):
        raw = raw.strip()
        if not raw:
            continue
        try:
            if is_date or len(raw) == 8:
                d = datetime.strptime(raw[:8], "%Y%m%d")
                yield d.replace(hour=dtstart.hour, minute=dtstart.minute, tzinfo=dtstart.tzinfo)
            elif raw.endswith("Z"):
                yield datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            else:
                yield datetime.strptime(raw, "%Y%m%dT%H%M%S").replace(tzinfo=tz)
        except ValueError:
            raise invalid(f"Invalid EXDATE value: {raw}") from None


def validate(master: dict[str, Any]) -> None:
    """Raise 400 for a rule Google would refuse (also requires a time zone on timed series)."""
    if not is_all_day(master.get("start")):
        for key in ("start", "end"):
            if not (master.get(key) or {}).get("timeZone"):
                raise invalid(f"Missing time zone definition for {key} time.")
    series_start(master, "UTC")
    _rules(master, series_start(master, "UTC"))


def series_start(master: dict[str, Any], cal_tz: str) -> datetime:
    """dtstart for dateutil: aware local time in the series' zone (naive midnight for all-day)."""
    start = master.get("start") or {}
    if is_all_day(start):
        d = parse_date(str(start["date"]))
        return datetime(d.year, d.month, d.day)
    dt = edge(start, cal_tz, field_name="start")
    tzname = start.get("timeZone")
    return dt.astimezone(zone(tzname)) if tzname else dt


def instance_id(master_id: str, start: datetime, all_day: bool) -> str:
    if all_day:
        return f"{master_id}_{start.strftime('%Y%m%d')}"
    return f"{master_id}_{start.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def occurrences(
    master: dict[str, Any],
    cal_tz: str,
    lo: datetime | None,
    hi: datetime | None,
    *,
    far: bool = False,
) -> list[datetime]:
    """Occurrence starts overlapping [lo, hi) (aware; all-day ones naive), EXDATEs removed.

    `far` (no lo/hi): from the series' start to its end, FAR_CAP instances at most per
    unbounded rule (MAX_INSTANCES for a bounded one), with no horizon."""
    dtstart = series_start(master, cal_tz)
    all_day = dtstart.tzinfo is None
    duration = _duration(master, cal_tz)
    rules, exdates = _rules(master, dtstart)
    if not rules:
        rules_starts: list[datetime] = [dtstart]
    else:
        rules_starts = []
    lo_l = _to_rule_time(lo - duration, all_day, cal_tz) if lo else dtstart
    hi_l = _to_rule_time(hi, all_day, cal_tz) if hi else dtstart + DEFAULT_HORIZON
    if lo_l < dtstart:
        lo_l = dtstart
    if far:
        hi_l = datetime.max if all_day else datetime.max.replace(tzinfo=UTC)
    for rule in rules:
        bounded = getattr(rule, "_count", None) is not None or (
            getattr(rule, "_until", None) is not None
        )
        cap = FAR_CAP if far and not bounded else MAX_INSTANCES
        for n, occ in enumerate(rule.xafter(lo_l, inc=True)):
            if occ >= hi_l or n >= cap:
                break
            rules_starts.append(occ)
    seen: set[datetime] = set()
    out: list[datetime] = []
    for occ in sorted(rules_starts):
        if occ in seen or occ in exdates or occ < lo_l or occ >= hi_l:
            continue
        if lo is not None and not all_day and occ + duration <= lo:
            continue
        seen.add(occ)
        out.append(occ)
    return out


def _to_rule_time(dt: datetime, all_day: bool, cal_tz: str) -> datetime:
    if all_day:
        local = dt.astimezone(zone(cal_tz))
        return local.replace(tzinfo=None)
    return dt


def _duration(master: dict[str, Any], cal_tz: str) -> timedelta:
    start, end = master.get("start") or {}, master.get("end") or {}
    if is_all_day(start):
        return parse_date(str(end["date"])) - parse_date(str(start["date"]))
    return edge(end, cal_tz, field_name="end") - edge(start, cal_tz, field_name="start")


def make_instance(master: dict[str, Any], occ: datetime, cal_tz: str) -> dict[str, Any]:
    """One generated instance of `master` starting at `occ`."""
    inst: dict[str, Any] = clone(master)
    inst.pop("recurrence", None)
    duration = _duration(master, cal_tz)
    all_day = occ.tzinfo is None
    start = dict(master["start"])
    end = dict(master["end"])
    if all_day:
        d: date = occ.date()
        start["date"] = d.isoformat()
        end["date"] = (d + duration).isoformat()
        original = {"date": d.isoformat()}
    else:
        end_tz = zone(end.get("timeZone")) if end.get("timeZone") else occ.tzinfo
        start["dateTime"] = format_local(occ)
        end["dateTime"] = format_local((occ + duration).astimezone(end_tz))
        original = {"dateTime": format_local(occ)}
        if master["start"].get("timeZone"):
            original["timeZone"] = master["start"]["timeZone"]
    inst["id"] = instance_id(master["id"], occ, all_day)
    inst["start"], inst["end"] = start, end
    inst["recurringEventId"] = master["id"]
    inst["originalStartTime"] = original
    return inst


def original_key(original: dict[str, Any] | None, cal_tz: str) -> datetime | None:
    """The instant named by an `originalStartTime` (for matching exceptions to occurrences)."""
    if not original:
        return None
    if original.get("date") and not original.get("dateTime"):
        d = parse_date(str(original["date"]))
        return datetime(d.year, d.month, d.day)
    return edge(original, cal_tz, field_name="originalStart")
