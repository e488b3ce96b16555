"""Inventory and backfill plan, computed purely from what was read from Google.

`build_inventory` classifies and links; `build_backfill` turns that into the list of
Google writes the backfill would make: stamp user events (series masters for recurring
events), stamp/refresh legacy blocks (adopted with the deterministic block id, legacy
title kept until cutover), delete duplicates/cascades/orphans, insert missing blocks.

New blocks made during backfill keep the legacy title form (`<marker> Busy - X`) so the
legacy engine, still running on calendars not yet rolled out, recognises them as blocks
and never mirrors them (a cascade). Cutover gives every block of ours still titled that
way (and any other that differs) the engine's full content in one patch, so the first
uuid-mode cycle after it writes nothing.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calsync_tui.engine.fields import (
    BLOCK_DESCRIPTION,
    BadEventData,
    mirror_digest,
    parse_times,
    private_props,
)
from calsync_tui.engine.fields import title_of as title
from calsync_tui.engine.model import (
    KEY_ID,
    KEY_INSTANCE,
    KEY_SOURCE,
    KEY_TYPE,
    KEY_VERSION,
    SCHEMA_VERSION,
    EventClass,
    EventType,
    Op,
    block_correlation_id,
    google_event_id_for,
)
from calsync_tui.engine.plan import CalendarRef as EngineCalendar
from calsync_tui.engine.plan import SourceItem, block_body, patch_body
from calsync_tui.google.types import GoogleEvent
from calsync_tui.migration.linking import (
    CalendarView,
    EventRef,
    Item,
    LinkReport,
    classify_item,
    link_legacy,
    parse_legacy_title,
    source_items,
)
from calsync_tui.settings import Settings

TIME_FIELDS = ("date", "dateTime", "timeZone")


@dataclass(frozen=True)
class MigrationOptions:
    """The settings the migration reads (a subset of `Settings`, kept explicit for tests)."""

    installation_id: str
    legacy_markers: tuple[str, ...]
    ignored_event_types: tuple[str, ...]
    block_title: Callable[[str], str]
    legacy_detection: bool = True
    # The engine's settings, for `engine.plan.block_body` (cutover writes the engine's
    # exact block content). Tests may leave the defaults.
    settings: Settings = field(default_factory=Settings)

    @property
    def new_block_marker(self) -> str:
        return self.legacy_markers[0] if self.legacy_markers else "🔒"


@dataclass
class Inventory:
    """Everything discover reports, plus what the planner needs."""

    views: list[CalendarView]
    items: list[Item]
    links: LinkReport
    masters: dict[tuple[str, str], GoogleEvent] = field(default_factory=dict)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per calendar: events per class and the legacy findings."""
        out: dict[str, dict[str, int]] = {}
        for v in self.views:
            out[v.google_id] = {c.value: 0 for c in EventClass}
            out[v.google_id].update(
                {
                    "duplicates": 0,
                    "cascades": 0,
                    "orphans": 0,
                    "out_of_date": 0,
                    "ambiguous": 0,
                    "linked": 0,
                }
            )
        for i in self.items:
            out[i.calendar][i.cls.value] += 1
        for u in self.links.unlinked:
            out[u.block.calendar][u.why + "s"] += 1
        for lk in self.links.links:
            out[lk.block.calendar]["linked"] += 1
            if lk.out_of_date:
                out[lk.block.calendar]["out_of_date"] += 1
        for a in self.links.ambiguous:
            out[a.block.calendar]["ambiguous"] += 1
        for i in self.items:
            if i.cls == EventClass.ORPHANED_BLOCK:
                out[i.calendar]["orphans"] += 1
        return out

    def fingerprint(self) -> str:
        return fingerprint_of(self.views, self.masters)


def fingerprint_of(
    views: Sequence[CalendarView], masters: Mapping[tuple[str, str], GoogleEvent]
) -> str:
    """Hash of the state a plan was computed from: every listed event's id and etag."""
    lines = sorted(
        f"{v.google_id}\x1f{e.get('id', '')}\x1f{e.get('etag', '')}"
        for v in views
        for e in v.events
    )
    lines += sorted(f"master\x1f{c}\x1f{i}\x1f{m.get('etag', '')}" for (c, i), m in masters.items())
    digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return f"sha256:{digest}"


def build_inventory(
    views: Sequence[CalendarView],
    options: MigrationOptions,
    masters: Mapping[tuple[str, str], GoogleEvent] | None = None,
) -> Inventory:
    items = [
        classify_item(
            v.google_id,
            e,
            markers=options.legacy_markers,
            installation_id=options.installation_id,
            ignored_event_types=options.ignored_event_types,
            legacy_detection=options.legacy_detection,
            owners=v.owners,
        )
        for v in views
        for e in v.events
    ]
    key_to_ref = {s.correlation_id: s.ref for s in source_items(items)}
    stamped_pairs: set[tuple[EventRef, str]] = set()
    for i in items:
        if i.cls == EventClass.BUSY_BLOCK:
            src = i.source_key
            if src not in key_to_ref:
                i.cls = EventClass.ORPHANED_BLOCK
            elif src in key_to_ref:
                stamped_pairs.add((key_to_ref[src], i.calendar))
    links = link_legacy(items, stamped_pairs, options.legacy_markers)
    return Inventory(list(views), items, links, dict(masters or {}))


@dataclass
class PlannedWrite:
    """One Google write of a migration plan. `before` is the event as read (None for inserts)."""

    seq: int
    op: str
    calendar: str
    event_id: str
    correlation_id: str | None
    reason: str
    body: GoogleEvent | None
    before: GoogleEvent | None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "op": self.op,
            "calendar": self.calendar,
            "event_id": self.event_id,
            "correlation_id": self.correlation_id,
            "reason": self.reason,
            "body": self.body,
            "before": self.before,
        }

    @property
    def kind(self) -> str:
        """The op, or `adopt` for a stamp of a legacy block (`write_kind`)."""
        return write_kind(self.op, self.body)

    def changes(self) -> list[FieldChange]:
        """What this write changes, field by field (`field_changes`)."""
        return field_changes(self.op, self.before, self.body)

    @property
    def start(self) -> dict[str, Any] | None:
        """The event's start as a person knows it (`event_start`)."""
        return event_start(self.before, self.body)

    @property
    def title(self) -> str:
        """The event's title as a person knows it now (`event_title`)."""
        return event_title(self.before, self.body)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> PlannedWrite:
        return cls(
            seq=int(raw["seq"]),
            op=str(raw["op"]),
            calendar=str(raw["calendar"]),
            event_id=str(raw["event_id"]),
            correlation_id=raw.get("correlation_id"),
            reason=str(raw.get("reason", "")),
            body=raw.get("body"),
            before=raw.get("before"),
        )


@dataclass(frozen=True)
class FieldChange:
    """One field a write changes, as read from the plan: `before` and `after` are the
    raw values (None: absent). `field` is `summary`, `start`, `end`, `status`, `id`,
    `private.<key>` for our properties, or another top-level event field."""

    field: str
    before: Any
    after: Any


# What a person recognises an event by, first; then our properties; then the rest.
_SHOWN_FIRST = ("summary", "start", "end", "status")
# An insert is described by what the person will see and the ids that tie it together.
_INSERT_FIELDS = ("summary", "start")


def _private(event: GoogleEvent | None) -> dict[str, Any]:
    ext = (event or {}).get("extendedProperties")
    private = ext.get("private") if isinstance(ext, dict) else None
    return dict(private) if isinstance(private, dict) else {}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict) and ("date" in a or "dateTime" in a):
        return _times_of(a) == _times_of(b)
    return bool(a == b)


def _times_of(value: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(value.get(k) for k in TIME_FIELDS)


def field_changes(
    op: str, before: GoogleEvent | None, body: GoogleEvent | None
) -> list[FieldChange]:
    """What one write changes, field by field: an insert's title, start and properties
    (from nothing); a delete's status; a patch's fields that differ from the event as
    read (`extendedProperties.private` per key, None removing one); `update` (a full
    replace, rollback level 2) every shown field that differs."""
    if op == Op.DELETE:
        status = (before or {}).get("status") or "confirmed"
        return [FieldChange("status", status, "deleted")]
    body = body or {}
    out: list[FieldChange] = []
    if op == Op.INSERT:
        if before is not None and before.get("status") == "cancelled":
            out.append(FieldChange("status", "cancelled", body.get("status") or "confirmed"))
        out += [FieldChange(k, None, body[k]) for k in _INSERT_FIELDS if k in body]
        return out + _private_changes({}, _private(body))
    old = before or {}
    if op == "update":  # full replace: what is not in the body is gone afterwards
        keys = [k for k in (*_SHOWN_FIRST, "description", "visibility", "transparency")]
        keys += [k for k in body if k not in keys and k != "extendedProperties"]
        for k in keys:
            if k in ("extendedProperties", "id", "etag", "updated"):
                continue
            a, b = old.get(k), body.get(k)
            if (a is not None or b is not None) and not _same(a, b):
                out.append(FieldChange(k, a, b))
        return out + _private_changes(_private(old), _private(body))
    ordered = [k for k in _SHOWN_FIRST if k in body] + [
        k for k in body if k not in _SHOWN_FIRST and k not in ("id", "extendedProperties")
    ]
    for k in ordered:
        if not _same(old.get(k), body[k]):
            out.append(FieldChange(k, old.get(k), body[k]))
    return out + _private_changes(_private(old), _patched_private(old, body))


# Our properties in the order a reviewer reads them; any other private key after them.
_PRIVATE_ORDER = (KEY_ID, KEY_TYPE, KEY_SOURCE, KEY_INSTANCE, KEY_VERSION)


def _private_changes(mine: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[FieldChange]:
    keys = [k for k in _PRIVATE_ORDER if k in mine or k in theirs]
    keys += sorted(k for k in {*mine, *theirs} if k not in _PRIVATE_ORDER)
    return [
        FieldChange(f"private.{k}", mine.get(k), theirs.get(k))
        for k in keys
        if mine.get(k) != theirs.get(k)
    ]


def _patched_private(old: GoogleEvent, body: GoogleEvent) -> dict[str, Any]:
    """`extendedProperties.private` after a patch (Google merges it per key; a null key,
    a null `private` or a null `extendedProperties` removes)."""
    mine = _private(old)
    if "extendedProperties" not in body:
        return mine
    ext = body["extendedProperties"]
    if not isinstance(ext, dict):
        return {}
    if "private" not in ext:
        return mine
    if not isinstance(ext["private"], dict):
        return {}
    for k, v in ext["private"].items():
        if v is None:
            mine.pop(k, None)
        else:
            mine[k] = v
    return mine


def event_start(before: GoogleEvent | None, body: GoogleEvent | None) -> dict[str, Any] | None:
    """The start a write's event has as a person knows it: the one it will have when
    the write moves it (or creates it), else the one it has."""
    for event in (body, before):
        start = (event or {}).get("start")
        if isinstance(start, dict) and (start.get("date") or start.get("dateTime")):
            return dict(start)
    return None


def event_title(before: GoogleEvent | None, body: GoogleEvent | None) -> str:
    """A write's event title as a person knows it now (an insert's: the one it gets)."""
    for event in (before, body):
        value = (event or {}).get("summary")
        if value:
            return str(value)
    return ""


ADOPT = "adopt"  # a stamp of a legacy block: counted apart from stamps of user events


def write_kind(op: str, body: GoogleEvent | None) -> str:
    """What a write does, in the plan's totals and review: its op, except that a stamp
    carrying a busy block's properties adopts a legacy block (`adopt`), which a person
    must not read as one more of their own events being stamped."""
    if op == Op.STAMP and _private(body).get(KEY_TYPE) == EventType.BUSY_BLOCK:
        return ADOPT
    return str(op)


def totals(writes: Sequence[PlannedWrite]) -> dict[str, dict[str, int]]:
    """Per calendar: number of writes per kind (`write_kind`: the op, adoptions apart)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for w in writes:
        out[w.calendar][w.kind] += 1
    return {cal: dict(sorted(c.items())) for cal, c in sorted(out.items())}


def api_estimate(n_writes: int, batch_size: int) -> dict[str, int]:
    """Quota units and HTTP round trips of executing `n_writes` in batches."""
    return {
        "writes": n_writes,
        "units": n_writes,
        "round_trips": math.ceil(n_writes / batch_size) if n_writes else 0,
        "batch_size": batch_size,
    }


def _times(event: GoogleEvent, key: str) -> dict[str, Any]:
    raw = event.get(key) or {}
    return {k: raw[k] for k in TIME_FIELDS if k in raw}


def _props(options: MigrationOptions, **values: str) -> dict[str, str]:
    base = {KEY_VERSION: SCHEMA_VERSION, KEY_INSTANCE: options.installation_id}
    base.update(values)
    return base


def build_backfill(
    inv: Inventory,
    options: MigrationOptions,
    scope: str | None = None,
    held: Collection[tuple[str, str]] = frozenset(),
) -> list[PlannedWrite]:
    """The backfill's writes, in a stable order: deletes, stamps of sources, blocks.

    `held`: (calendar, event id) pairs whose writes Google refused for the version read
    (`writes.refusals.standing`): left out, as a cycle leaves them out (inserts never)."""
    writes: list[PlannedWrite] = []
    sources = source_items(inv.items)
    by_ref = {i.ref: i for i in inv.items}
    writable = [v.google_id for v in inv.views if v.writable]

    # 1. Deletes: duplicates, cascades, orphans (legacy and our own orphaned blocks).
    for u in inv.links.unlinked:
        ev = by_ref[u.block].event
        writes.append(_delete(u.block, ev, f"{u.why}: {u.detail}"))
    for i in inv.items:
        if i.cls == EventClass.ORPHANED_BLOCK:
            writes.append(_delete(i.ref, i.event, "orphan: our block without a live source"))

    # 2. Stamp user events (the series master once for recurring events).
    stamped_targets: set[tuple[str, str]] = set()
    for s in sources:
        if s.cls != EventClass.NEW_USER_EVENT or s.calendar not in writable:
            continue  # a reader calendar's events stay unstamped (their id is derived)
        assert s.info is not None
        master_id = s.info.recurring_event_id
        target_id = s.info.stamp_event_id or str(s.event.get("id", ""))
        if (s.calendar, target_id) in stamped_targets:
            continue
        stamped_targets.add((s.calendar, target_id))
        before = inv.masters.get((s.calendar, target_id)) if master_id else s.event
        cid = s.info.stamp_id or s.correlation_id
        body: dict[str, Any] = {
            "extendedProperties": {
                "private": _props(options, **{KEY_ID: cid, KEY_TYPE: EventType.USER_EVENT})
            }
        }
        reason = "stamp recurring series master" if master_id else "stamp user event"
        writes.append(PlannedWrite(0, Op.STAMP, s.calendar, target_id, cid, reason, body, before))

    # 3. Blocks: adopt linked legacy blocks, refresh our blocks, insert missing ones.
    link_of: dict[tuple[EventRef, str], EventRef] = {}
    kind_of: dict[EventRef, str] = {}
    for lk in inv.links.links:
        link_of[(lk.source, lk.block.calendar)] = lk.block
        kind_of[lk.block] = lk.kind
    ours: dict[tuple[str, str], Item] = {}
    for i in inv.items:
        if i.cls == EventClass.BUSY_BLOCK:
            ours[(i.source_key, i.calendar)] = i
    blocked = {(c, a.block.calendar) for a in inv.links.ambiguous for c in a.candidates}
    for s in sorted(sources, key=lambda x: (x.calendar, x.times, str(x.event.get("id")))):
        key = s.correlation_id
        for target in writable:
            if target == s.calendar or (s.ref, target) in blocked:
                continue
            cid = block_correlation_id(key, target)
            props = _props(
                options, **{KEY_ID: cid, KEY_TYPE: EventType.BUSY_BLOCK, KEY_SOURCE: key}
            )
            mine = ours.get((key, target))
            if mine is not None:
                if mine.times != s.times:
                    body = {"start": _times(s.event, "start"), "end": _times(s.event, "end")}
                    writes.append(
                        PlannedWrite(
                            0,
                            Op.PATCH,
                            target,
                            str(mine.event["id"]),
                            cid,
                            "refresh out-of-date block",
                            body,
                            mine.event,
                        )
                    )
                continue
            legacy = link_of.get((s.ref, target))
            if legacy is not None:
                # Adoption adds our properties only (plus title/times when the source
                # moved); the rest of the engine's content (description, private,
                # reminders off, no attendees) waits for cutover, which sends the whole
                # block in the write it makes anyway. Cheaper: each adopted block costs
                # exactly one write here (properties must exist before rollout) and one
                # at cutover (the legacy title must stay until then) whichever write
                # carries the content, and cutover must send the full body regardless,
                # since the hybrid engine leaves legacy-titled blocks alone but for
                # their times during rollout. Safer: while calendars still run the
                # legacy engine (and possibly the old tool), the backfill changes
                # nothing anyone sees, the plan under review says exactly that, and a
                # level 1 rollback leaves blocks as users knew them.
                ev = by_ref[legacy].event
                body = {"extendedProperties": {"private": props}}
                reason = "adopt legacy block"
                if kind_of[legacy] != "exact":
                    marker = by_ref[legacy].marker or options.new_block_marker
                    body.update(
                        {
                            "summary": f"{marker} {options.block_title(title(s.event))}",
                            "start": _times(s.event, "start"),
                            "end": _times(s.event, "end"),
                        }
                    )
                    reason = f"adopt and refresh legacy block (source {kind_of[legacy]})"
                writes.append(
                    PlannedWrite(0, Op.STAMP, target, legacy.event_id, cid, reason, body, ev)
                )
                continue
            body = {
                "id": google_event_id_for(cid),
                "summary": f"{options.new_block_marker} {options.block_title(title(s.event))}",
                "start": _times(s.event, "start"),
                "end": _times(s.event, "end"),
                "description": BLOCK_DESCRIPTION,
                "transparency": "opaque",
                "visibility": "private",
                "attendees": [],
                "reminders": {"useDefault": False, "overrides": []},
                "extendedProperties": {"private": props},
            }
            writes.append(
                PlannedWrite(
                    0,
                    Op.INSERT,
                    target,
                    google_event_id_for(cid),
                    cid,
                    "create missing block",
                    body,
                    None,
                )
            )
    if scope is not None:
        writes = [w for w in writes if w.calendar == scope]
    if held:
        writes = [w for w in writes if w.op == Op.INSERT or (w.calendar, w.event_id) not in held]
    for n, w in enumerate(writes, start=1):
        w.seq = n
    return writes


def _delete(ref: EventRef, event: GoogleEvent, reason: str) -> PlannedWrite:
    cid = private_props(event).get(KEY_ID)
    return PlannedWrite(0, Op.DELETE, ref.calendar, ref.event_id, cid, reason, None, event)


def engine_times(event: GoogleEvent) -> tuple[dict[str, str], dict[str, str]] | None:
    """A source's start/end as the engine mirrors them (None when unparsable).

    The engine keeps one time zone per source (its start's) and copies it onto both ends
    of the block; the cutover body must carry the same, or the first uuid cycle would
    find a time-zone difference and patch the block again.
    """
    try:
        start, end = parse_times(event)
    except BadEventData:
        return None
    if start.all_day:
        return {"date": start.raw}, {"date": end.raw}
    tz = {"timeZone": start.time_zone} if start.time_zone else {}
    return {"dateTime": start.raw, **tz}, {"dateTime": end.raw, **tz}


def final_block(
    source: Item, block: GoogleEvent, target: str, options: MigrationOptions
) -> GoogleEvent | None:
    """The engine's desired content for `block` (ours, on `target`) mirroring `source`:
    `engine.plan.block_body` (template title, opaque, private, no attendees, reminders
    off, description, properties) with the block's own id and `calsync_id` kept, as the
    engine does for an adopted block whose Google id is not the deterministic one."""
    times = engine_times(source.event)
    if times is None:
        return None
    src_cal = EngineCalendar(0, source.calendar, "owner", "")
    item = SourceItem(
        src_cal,
        str(source.event.get("id", "")),
        source.correlation_id,
        title(source.event),
        times[0],
        times[1],
    )
    tgt = EngineCalendar(0, target, "owner", "")
    body = block_body(item, tgt, installation_id=options.installation_id, settings=options.settings)
    own_id = str(block.get("id", ""))
    if own_id and own_id != body["id"]:
        body["id"] = own_id
        own_cid = private_props(block).get(KEY_ID)
        if own_cid:
            body["extendedProperties"]["private"][KEY_ID] = own_cid
    return body


def retitle_writes(
    inv: Inventory, options: MigrationOptions, scope: str | None = None
) -> list[PlannedWrite]:
    """Cutover: every block of ours still titled the legacy way, and any other block of
    ours that differs from what the engine wants, gets the engine's full content in one
    patch (title from the template, and everything else `block_body` sets).

    The backfill adopted legacy blocks with properties only, so their description,
    visibility, reminders and attendees are still the old tool's; sending only the new
    title here would leave the first uuid-mode cycle a second patch per block. With the
    full body that cycle has nothing to write. The journaled `before` is the event as
    listed, so rollback level 2 still restores it exactly (content changed: it PUTs the
    whole pre-migration event, which drops every field the migration added).
    """
    by_key = {s.correlation_id: s for s in source_items(inv.items)}
    writes: list[PlannedWrite] = []
    for i in inv.items:
        if i.cls != EventClass.BUSY_BLOCK or (scope and i.calendar != scope):
            continue
        legacy = parse_legacy_title(title(i.event), options.legacy_markers)
        source = by_key.get(i.source_key)
        props = private_props(i.event)
        want = final_block(source, i.event, i.calendar, options) if source else None
        if want is None:
            if legacy is None:
                continue  # the engine decides about a block without a usable source
            body: GoogleEvent = {"summary": options.block_title(legacy[1])}
        elif legacy is None and mirror_digest(i.event) == mirror_digest(want):
            continue  # already exactly what the engine wants
        else:
            body = patch_body(want)
        op, reason = (
            (Op.RETITLE, "cutover: template title and the engine's block content")
            if legacy is not None
            else (Op.PATCH, "cutover: the engine's block content")
        )
        writes.append(
            PlannedWrite(
                0, op, i.calendar, str(i.event["id"]), props.get(KEY_ID), reason, body, i.event
            )
        )
    for n, w in enumerate(writes, start=1):
        w.seq = n
    return writes
