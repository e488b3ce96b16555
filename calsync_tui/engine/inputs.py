"""Stage 4a, plan inputs: stored rows (already classified for this cycle) -> the typed
items the planner works with (`SourceItem`, `BlockItem`), class counts and cascades.

No class is decided here: `classify` (listed events) and `classify_stored` (rows not
listed this cycle) did that once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from calsync_tui.engine.calendar_ref import CalendarRef
from calsync_tui.engine.classify import legacy_suffix
from calsync_tui.engine.fields import BadEventData, parse_when, stored_when, when_key
from calsync_tui.engine.model import EventClass, Status, unstamped_correlation_id
from calsync_tui.engine.persist import DELETED_BY_HAND, Key, RowSet
from calsync_tui.engine.plan import BlockItem, SourceItem
from calsync_tui.engine.state import Row
from calsync_tui.engine.window import Window

_SOURCES = (str(EventClass.NEW_USER_EVENT), str(EventClass.TRACKED_USER_EVENT))
_BLOCKS = (
    str(EventClass.BUSY_BLOCK),
    str(EventClass.ORPHANED_BLOCK),
    str(EventClass.LEGACY_BUSY_BLOCK),
)
_LIVE = (str(Status.CREATED), str(Status.SYNCED))


@dataclass
class PlanInputs:
    sources: list[SourceItem] = field(default_factory=list)
    blocks: list[BlockItem] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)


def plan_inputs(
    cals: Mapping[int, CalendarRef],
    rows: RowSet,
    markers: tuple[str, ...],
    window: Window | None = None,
) -> PlanInputs:
    out = PlanInputs()
    for key, row in rows.rows.items():
        cal = cals.get(row["calendar_id"])
        if cal is None:
            continue
        status = row.get("status")
        cls = row.get("event_class")
        if status != str(Status.DELETED):
            out.classes[str(cls)] += 1
        if cls in _SOURCES:
            if status != str(Status.DELETED):
                out.sources.append(_source(cal, row))
        elif cls in _BLOCKS:
            out.blocks.append(_block(cal, key, row, rows, markers, window))
    return out


def _times(row: Row) -> tuple[dict[str, str], dict[str, str]]:
    all_day, tz = bool(row.get("all_day")), row.get("time_zone")
    return stored_when(row.get("start") or "", all_day, tz), stored_when(
        row.get("end") or "", all_day, tz
    )


def _source(cal: CalendarRef, row: Row) -> SourceItem:
    start, end = _times(row)
    return SourceItem(
        cal,
        row["google_event_id"],
        row["correlation_id"],
        row.get("summary") or "",
        start,
        end,
        stamped=bool(row.get("stamped")),
        stamp_event_id=row.get("recurring_event_id") or row["google_event_id"],
        stamp_id=_stamp_id(cal, row),
        updated=row.get("google_updated"),
        same_event=row.get("ical_key") or "",
    )


def _block(
    cal: CalendarRef,
    key: Key,
    row: Row,
    rows: RowSet,
    markers: tuple[str, ...],
    window: Window | None,
) -> BlockItem:
    start, end = _times(row)
    in_window = window is None or window.contains(_utc(start), _utc(end))
    legacy = row.get("event_class") == str(EventClass.LEGACY_BUSY_BLOCK)
    suffix = legacy_suffix(row.get("summary") or "", markers)
    status = row.get("status")
    return BlockItem(
        cal,
        row["google_event_id"],
        None if legacy else row["correlation_id"],
        row.get("source_correlation_id"),
        digest=row.get("title_hash") or "",
        live=status in _LIVE,
        deleted_by_hand=status == str(Status.DELETED) and row.get("error") == DELETED_BY_HAND,
        legacy=legacy,
        legacy_suffix=suffix,
        cascade=legacy and suffix is not None and legacy_suffix(suffix, markers) is not None,
        legacy_title=not legacy and suffix is not None,
        start_key=when_key(start),
        end_key=when_key(end),
        before=rows.listed.get(key)
        or {
            "id": row["google_event_id"],
            "summary": row.get("summary") or "",
            "start": start,
            "end": end,
            "etag": row.get("etag"),
        },
        in_window=in_window,
    )


def _utc(value: dict[str, str]) -> datetime | None:
    try:
        return parse_when(value, "t").utc
    except BadEventData:
        return None


def _stamp_id(cal: CalendarRef, row: Row) -> str:
    if row.get("stamped"):
        return ""  # nothing to stamp
    master = row.get("recurring_event_id")
    if master:
        return unstamped_correlation_id(cal.google_id, master)
    return str(row["correlation_id"])


def cascades(blocks: list[BlockItem]) -> Counter[str]:
    """Blocks of blocks per calendar: legacy cascade titles, or our block whose source
    is itself a block."""
    block_ids = {b.correlation_id for b in blocks if b.correlation_id and b.live}
    out: Counter[str] = Counter()
    for b in blocks:
        if b.live and (b.cascade or (not b.legacy and b.source_correlation_id in block_ids)):
            out[b.calendar.google_id] += 1
    return out
