"""Give every Google event exactly one class (DESIGN.md section 3). Pure: no I/O.

Ownership by mode:
- `uuid`: only our `calsync_*` properties say "ours". A legacy-titled event without
  properties is *not* a source either: it is `ignored` (cascade guard), because
  mirroring `🔒 Busy - X` would make exactly the cascade the migration removes.
- `hybrid`: properties first, legacy text as fallback.
- `legacy`: text markers decide for unmarked events (today's behaviour); an event that
  carries *our* busy-block properties is still never a source, in any mode: a block must
  not become a source because the mode was rolled back.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache

from calsync_tui.engine.fields import (
    BadEventData,
    original_start_key,
    parse_times,
    private_props,
    title_of,
)
from calsync_tui.engine.model import (
    KEY_ID,
    KEY_INSTANCE,
    KEY_SOURCE,
    KEY_TYPE,
    EngineMode,
    EventClass,
    EventType,
    instance_correlation_id,
    unstamped_correlation_id,
)
from calsync_tui.google.types import GoogleEvent
from calsync_tui.settings import DEFAULT_IGNORED_EVENT_TYPES, DEFAULT_LEGACY_MARKERS


@dataclass(frozen=True)
class ClassifyContext:
    """What classification of one calendar's events depends on."""

    installation_id: str
    calendar_google_id: str
    mode: EngineMode = EngineMode.UUID
    legacy_markers: tuple[str, ...] = DEFAULT_LEGACY_MARKERS
    ignored_event_types: tuple[str, ...] = DEFAULT_IGNORED_EVENT_TYPES
    owner_emails: frozenset[str] = frozenset()
    window_start: datetime | None = None
    window_end: datetime | None = None
    live_source_ids: frozenset[str] | None = None  # when given, blocks outside it are orphans


@dataclass(frozen=True)
class Classification:
    """The class plus what the engine needs to act on it.

    For sources `correlation_id` is the source's id (an instance's own id) and
    `stamp_event_id`/`stamp_id` say which Google event to stamp with which id (the series
    master for instances). For blocks `source_correlation_id` names the source.
    """

    event_class: EventClass
    reason: str = ""
    correlation_id: str | None = None
    source_correlation_id: str | None = None
    event_type: EventType = EventType.USER_EVENT
    stamped: bool = False
    stamp_event_id: str | None = None
    stamp_id: str | None = None
    recurring_event_id: str | None = None
    legacy_suffix: str | None = None
    cascade: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_source(self) -> bool:
        return self.event_class in (EventClass.NEW_USER_EVENT, EventClass.TRACKED_USER_EVENT)

    @property
    def is_block(self) -> bool:
        return self.event_class in (
            EventClass.BUSY_BLOCK,
            EventClass.LEGACY_BUSY_BLOCK,
            EventClass.ORPHANED_BLOCK,
        )


@lru_cache(maxsize=32)
def legacy_pattern(markers: tuple[str, ...]) -> re.Pattern[str]:
    """`<marker> Busy - <rest>`, whitespace tolerant, emoji variation selectors optional."""
    alts = "|".join(
        re.escape(m.replace("\ufe0f", "")) for m in sorted(markers, key=len, reverse=True)
    )
    if not alts:
        return re.compile(r"(?!x)x")
    return re.compile(rf"^\s*(?:{alts})\ufe0f?\s*Busy\s*-\s*(.*?)\s*$", re.DOTALL)


def legacy_suffix(title: str, markers: tuple[str, ...]) -> str | None:
    """The source title inside a legacy block title, or None when it is not one."""
    match = legacy_pattern(tuple(markers)).match(title.replace("\ufe0f", ""))
    return match.group(1) if match else None


def is_cascade_title(title: str, markers: tuple[str, ...]) -> bool:
    """A legacy title whose suffix is itself a legacy title (a block of a block)."""
    suffix = legacy_suffix(title, markers)
    return suffix is not None and legacy_suffix(suffix, markers) is not None


def _is_uuid(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _declined_by_owner(event: GoogleEvent, owners: frozenset[str]) -> bool:
    attendees = event.get("attendees")
    if not isinstance(attendees, list):
        return False
    for attendee in attendees:
        if not isinstance(attendee, dict):
            continue
        is_owner = attendee.get("self") is True or (
            str(attendee.get("email", "")).lower() in owners
        )
        if is_owner and attendee.get("responseStatus") == "declined":
            return True
    return False


def source_identity(
    event: GoogleEvent, calendar_google_id: str, props: dict[str, str] | None = None
) -> tuple[str, str, str] | None:
    """(correlation id, stamp id, stamp event id) of a source event, or None if unusable.

    A single event's id is its `calsync_id` (or a deterministic one when unstamped). An
    instance of a series gets `instance_correlation_id(series_cid, originalStartTime)`;
    the stamp goes on the series master with the series id. Migration reuses this.
    """
    props = props if props is not None else {}
    event_id = str(event.get("id", ""))
    master = event.get("recurringEventId")
    if isinstance(master, str) and master:
        series_cid = props.get(KEY_ID) or unstamped_correlation_id(calendar_google_id, master)
        ost = original_start_key(event)
        if ost is None:
            return None
        return instance_correlation_id(series_cid, ost), series_cid, master
    cid = props.get(KEY_ID) or unstamped_correlation_id(calendar_google_id, event_id)
    return cid, cid, event_id


def foreign_markers(
    event: GoogleEvent, calendar_google_id: str, ours: dict[str, str]
) -> dict[str, str]:
    """Another installation's markers on `event`, as adoption needs them (engine.foreign):
    `instance`, `type`, `id` (for a user event its source id as that installation used
    it: an instance's own id for one instance of a series) and `source` (blocks)."""
    out = {"instance": ours.get(KEY_INSTANCE, ""), "type": ours.get(KEY_TYPE, "")}
    if ours.get(KEY_TYPE) == EventType.USER_EVENT and _is_uuid(ours.get(KEY_ID)):
        identity = source_identity(event, calendar_google_id, ours)
        if identity is not None:
            out["id"] = identity[0]
    elif _is_uuid(ours.get(KEY_ID)):
        out["id"] = ours[KEY_ID]
    if _is_uuid(ours.get(KEY_SOURCE)):
        out["source"] = ours[KEY_SOURCE]
    return out


def classify(event: GoogleEvent, ctx: ClassifyContext) -> Classification:
    """Exactly one class for `event` as seen on `ctx.calendar_google_id`."""
    if not isinstance(event, dict) or not event.get("id"):
        return Classification(EventClass.ERROR, "event has no id")
    master = event.get("recurringEventId")
    recurring = master if isinstance(master, str) and master else None
    if event.get("status") == "cancelled":
        return Classification(EventClass.IGNORED, "cancelled", recurring_event_id=recurring)
    try:
        props = private_props(event)
    except BadEventData as exc:
        return Classification(EventClass.ERROR, str(exc), recurring_event_id=recurring)
    title = title_of(event)
    ours = {k: v for k, v in props.items() if k.startswith("calsync_")}
    stamped = False
    if ours:
        instance = ours.get(KEY_INSTANCE)
        if instance and instance != ctx.installation_id:
            return Classification(
                EventClass.EXTERNAL_CALSYNC,
                "calsync properties of another installation",
                correlation_id=ours.get(KEY_ID),
                recurring_event_id=recurring,
                extra=foreign_markers(event, ctx.calendar_google_id, ours),
            )
        kind = ours.get(KEY_TYPE)
        if not _is_uuid(ours.get(KEY_ID)):
            return Classification(
                EventClass.ERROR, "calsync_id is not a UUID", recurring_event_id=recurring
            )
        if kind not in (EventType.USER_EVENT, EventType.BUSY_BLOCK):
            return Classification(
                EventClass.ERROR, f"unknown calsync_type {kind!r}", recurring_event_id=recurring
            )
        if not instance:
            return Classification(
                EventClass.ERROR,
                "calsync properties without calsync_instance",
                recurring_event_id=recurring,
            )
        if kind == EventType.BUSY_BLOCK:
            source = ours.get(KEY_SOURCE)
            if not _is_uuid(source):
                return Classification(
                    EventClass.ERROR,
                    "busy block without a valid calsync_source",
                    recurring_event_id=recurring,
                )
            orphan = ctx.live_source_ids is not None and source not in ctx.live_source_ids
            return Classification(
                EventClass.ORPHANED_BLOCK if orphan else EventClass.BUSY_BLOCK,
                "source is gone" if orphan else "",
                correlation_id=ours[KEY_ID],
                source_correlation_id=source,
                event_type=EventType.BUSY_BLOCK,
                stamped=True,
                recurring_event_id=recurring,
            )
        stamped = True
    else:
        suffix = legacy_suffix(title, ctx.legacy_markers)
        if suffix is not None:
            cascade = legacy_suffix(suffix, ctx.legacy_markers) is not None
            if ctx.mode == EngineMode.UUID:
                return Classification(
                    EventClass.IGNORED,
                    "legacy-looking title without properties (uuid mode: never mirrored)",
                    legacy_suffix=suffix,
                    cascade=cascade,
                    recurring_event_id=recurring,
                )
            return Classification(
                EventClass.LEGACY_BUSY_BLOCK,
                "cascade (block of a block)" if cascade else "",
                event_type=EventType.BUSY_BLOCK,
                legacy_suffix=suffix,
                cascade=cascade,
                recurring_event_id=recurring,
            )
    return _classify_source(event, ctx, props, stamped, recurring)


def _classify_source(
    event: GoogleEvent,
    ctx: ClassifyContext,
    props: dict[str, str],
    stamped: bool,
    recurring: str | None,
) -> Classification:
    try:
        start, end = parse_times(event)
    except BadEventData as exc:
        return Classification(EventClass.ERROR, str(exc), recurring_event_id=recurring)
    identity = source_identity(event, ctx.calendar_google_id, props)
    if identity is None:
        return Classification(
            EventClass.ERROR,
            "recurring instance without originalStartTime",
            recurring_event_id=recurring,
        )
    cid, stamp_id, stamp_event_id = identity
    base = Classification(
        EventClass.TRACKED_USER_EVENT if stamped else EventClass.NEW_USER_EVENT,
        correlation_id=cid,
        stamped=stamped,
        stamp_event_id=stamp_event_id,
        stamp_id=stamp_id,
        recurring_event_id=recurring,
    )
    event_type = str(event.get("eventType") or "default")
    if event_type != "default" and event_type in ctx.ignored_event_types:
        return replace(base, event_class=EventClass.IGNORED, reason=f"eventType {event_type}")
    if event.get("transparency") == "transparent":
        return replace(base, event_class=EventClass.IGNORED, reason="free (transparent)")
    if _declined_by_owner(event, frozenset(e.lower() for e in ctx.owner_emails)):
        return replace(
            base, event_class=EventClass.IGNORED, reason="declined by the calendar owner"
        )
    if ctx.window_start is not None and end.utc <= ctx.window_start:
        return replace(base, event_class=EventClass.IGNORED, reason="outside the window")
    if ctx.window_end is not None and start.utc >= ctx.window_end:
        return replace(base, event_class=EventClass.IGNORED, reason="outside the window")
    return base


@dataclass(frozen=True)
class Seen:
    """One listed event with its class (cancelled events: class `ignored`, "cancelled")."""

    google_event_id: str
    event: GoogleEvent
    cls: Classification

    @property
    def cancelled(self) -> bool:
        return self.event.get("status") == "cancelled"


def classify_page(events: list[GoogleEvent], ctx: ClassifyContext) -> list[Seen]:
    """Every listed event with an id, classified once for this cycle."""
    out = []
    for event in events:
        gid = str(event.get("id") or "")
        if gid:
            out.append(Seen(gid, event, classify(event, ctx)))
    return out


def fresh_source_id(event: GoogleEvent, calendar_google_id: str) -> str | None:
    """The deterministic id of a source as if unstamped: what a copy of a stamped event
    (same `calsync_id`) gets instead, so two events never share an id."""
    master = event.get("recurringEventId")
    if not master:
        return unstamped_correlation_id(calendar_google_id, str(event["id"]))
    ost = original_start_key(event)
    if ost is None:
        return None
    return instance_correlation_id(unstamped_correlation_id(calendar_google_id, str(master)), ost)


def classify_stored(
    event_class: str | None,
    *,
    title: str,
    stamped: bool,
    has_error: bool,
    event_type: str | None,
    mode: EngineMode,
    markers: tuple[str, ...],
) -> str | None:
    """The class of a stored (not listed this cycle) row under the calendar's current
    mode: the mode may have changed since it was classified (rollout, rollback)."""
    if event_class == EventClass.LEGACY_BUSY_BLOCK and mode == EngineMode.UUID:
        return str(EventClass.IGNORED)
    if (
        event_class == EventClass.IGNORED
        and not stamped
        and mode != EngineMode.UUID
        and not has_error
        and event_type == EventType.USER_EVENT
        and legacy_suffix(title, markers) is not None
    ):
        return str(EventClass.LEGACY_BUSY_BLOCK)
    return event_class
