"""Desired state minus actual state -> a `Plan` of Google writes. Pure: no I/O.

Desired: every live source on an enabled calendar has exactly one busy block on each
*other* enabled calendar with access role owner|writer (across accounts); reader
calendars are sources only. A meeting with copies on several calendars (same iCalUID)
is mirrored once: no block where a live copy already sits, one copy elsewhere. Actual: our blocks (by `calsync_source`) and, in
legacy/hybrid mode, legacy blocks linked by title suffix and times.

A plan is a value: its id is a hash of its content, it round-trips through JSON, and it
can be shown (dry-run), saved, approved and executed later.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from calsync_tui.engine.calendar_ref import CalendarRef as CalendarRef  # the one type
from calsync_tui.engine.fields import BLOCK_DESCRIPTION, mirror_digest, when_key
from calsync_tui.engine.model import (
    KEY_ID,
    KEY_INSTANCE,
    KEY_SOURCE,
    KEY_TYPE,
    KEY_VERSION,
    SCHEMA_VERSION,
    EngineMode,
    EventType,
    Op,
    block_correlation_id,
    google_event_id_for,
)
from calsync_tui.google.types import GoogleEvent, WriteCall
from calsync_tui.settings import Settings
from calsync_tui.writes.ids import correlation_of

_OP_RANK = {Op.STAMP: 0, Op.INSERT: 1, Op.PATCH: 2, Op.DELETE: 3, Op.RETITLE: 4, Op.RESTORE: 5}


@dataclass(frozen=True)
class SourceItem:
    """A live source (new or tracked user event, or one instance of a series)."""

    calendar: CalendarRef
    google_event_id: str
    correlation_id: str
    summary: str
    start: dict[str, str]
    end: dict[str, str]
    stamped: bool = True
    stamp_event_id: str = ""
    stamp_id: str = ""
    updated: str | None = None
    # iCalUID (+ originalStartTime for an instance); "" when unknown. Copies of one
    # meeting on several calendars share it (see `same_event_owners`).
    same_event: str = ""


@dataclass(frozen=True)
class BlockItem:
    """A busy block we know of on a target calendar (ours by properties, or legacy)."""

    calendar: CalendarRef
    google_event_id: str
    correlation_id: str | None
    source_correlation_id: str | None
    digest: str = ""
    live: bool = True  # exists on Google as far as we know
    deleted_by_hand: bool = False  # we saw it disappear without deleting it ourselves
    legacy: bool = False
    legacy_suffix: str | None = None
    # A block of ours (stamped by the migration) that still has its legacy title: until
    # cutover (mode uuid) only its times follow the source; title and the rest stay.
    legacy_title: bool = False
    cascade: bool = False
    start_key: str = ""
    end_key: str = ""
    before: GoogleEvent | None = None
    # Outside the sync window (left behind, or ahead in the listing margin): kept as it
    # is, never deleted as an orphan or cascade here (history, not orphans; window.py).
    in_window: bool = True


@dataclass(frozen=True)
class PlannedMutation:
    """One Google write with everything needed to journal, send and undo it."""

    op: Op
    calendar_google_id: str
    calendar_id: int
    account: str
    google_event_id: str
    correlation_id: str | None
    source_correlation_id: str | None
    body: GoogleEvent | None
    before: GoogleEvent | None
    reason: str

    def write_call(self, key: str) -> WriteCall:
        """The gateway call for this mutation (a stamp is a patch of private properties)."""
        op = {Op.INSERT: "insert", Op.DELETE: "delete"}.get(self.op, "patch")
        return WriteCall(key, op, self.calendar_google_id, self.google_event_id, self.body)

    def to_json(self) -> dict[str, Any]:
        return {
            "op": str(self.op),
            "calendar_google_id": self.calendar_google_id,
            "calendar_id": self.calendar_id,
            "account": self.account,
            "google_event_id": self.google_event_id,
            "correlation_id": self.correlation_id,
            "source_correlation_id": self.source_correlation_id,
            "body": self.body,
            "before": self.before,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PlannedMutation:
        return cls(
            op=Op(raw["op"]),
            calendar_google_id=str(raw["calendar_google_id"]),
            calendar_id=int(raw["calendar_id"]),
            account=str(raw.get("account", "")),
            google_event_id=str(raw["google_event_id"]),
            correlation_id=raw.get("correlation_id"),
            source_correlation_id=raw.get("source_correlation_id"),
            body=raw.get("body"),
            before=raw.get("before"),
            reason=str(raw.get("reason", "")),
        )


@dataclass(frozen=True)
class Plan:
    """An ordered list of mutations; `plan_id` is a stable hash of their content."""

    plan_id: str
    mutations: list[PlannedMutation] = field(default_factory=list)

    @classmethod
    def of(cls, mutations: Iterable[PlannedMutation]) -> Plan:
        ordered = sorted(
            mutations,
            key=lambda m: (_OP_RANK.get(m.op, 9), m.calendar_google_id, m.google_event_id),
        )
        payload = json.dumps([m.to_json() for m in ordered], sort_keys=True, default=str)
        return cls(hashlib.sha256(payload.encode()).hexdigest()[:32], ordered)

    @property
    def totals(self) -> dict[str, dict[str, int]]:
        """Mutations per calendar (Google id) and op."""
        out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for m in self.mutations:
            out[m.calendar_google_id][str(m.op)] += 1
        return {cal: dict(ops) for cal, ops in out.items()}

    @property
    def by_op(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for m in self.mutations:
            out[str(m.op)] += 1
        return dict(out)

    def __len__(self) -> int:
        return len(self.mutations)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "totals": self.totals,
            "by_op": self.by_op,
            "mutations": [m.to_json() for m in self.mutations],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Plan:
        plan = cls.of(PlannedMutation.from_json(m) for m in raw.get("mutations", []))
        if raw.get("plan_id") and raw["plan_id"] != plan.plan_id:
            raise ValueError("plan content does not match its plan_id (edited or corrupt)")
        return plan


def _time_copy(value: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in value.items() if k in ("date", "dateTime", "timeZone")}


def block_body(
    source: SourceItem, target: CalendarRef, *, installation_id: str, settings: Settings
) -> GoogleEvent:
    """The full desired busy block for `source` on `target` (insert body, with its id).

    Only times and (per settings) the title leave the source: no description, location,
    attendees or conference data, so a shared calendar learns nothing private.
    """
    cid = block_correlation_id(source.correlation_id, target.google_id)
    return {
        "id": google_event_id_for(cid),
        "summary": settings.block_title(source.summary),
        "description": BLOCK_DESCRIPTION,
        "start": _time_copy(source.start),
        "end": _time_copy(source.end),
        "transparency": "opaque",
        "visibility": "private",
        "attendees": [],
        "reminders": {"useDefault": False, "overrides": []},
        "extendedProperties": {
            "private": {
                KEY_ID: cid,
                KEY_TYPE: str(EventType.BUSY_BLOCK),
                KEY_SOURCE: source.correlation_id,
                KEY_VERSION: SCHEMA_VERSION,
                KEY_INSTANCE: installation_id,
            }
        },
    }


def patch_body(desired: GoogleEvent) -> GoogleEvent:
    """Bring a block back to `desired` (and undelete it: status confirmed)."""
    body = {k: copy.deepcopy(v) for k, v in desired.items() if k != "id"}
    body["status"] = "confirmed"
    return body


def stamp_body(stamp_id: str, installation_id: str) -> GoogleEvent:
    """Private properties that make a user event ours; patch merges them with the rest."""
    return {
        "extendedProperties": {
            "private": {
                KEY_ID: stamp_id,
                KEY_TYPE: str(EventType.USER_EVENT),
                KEY_VERSION: SCHEMA_VERSION,
                KEY_INSTANCE: installation_id,
            }
        }
    }


def same_event_owners(
    sources: Sequence[SourceItem],
    targets: Sequence[CalendarRef],
    has_block: Callable[[SourceItem, CalendarRef], bool],
) -> dict[tuple[str, str], SourceItem | None]:
    """Which copy of a meeting mirrors it onto each target: (same_event, target) -> copy.

    None: the target holds a live copy itself (the real meeting already blocks the time).
    Otherwise one copy: the one that already has a block there (so a new copy appearing
    never moves a block), else the lowest calendar id. Stable from cycle to cycle.
    Meetings with a single copy are left out (the plain rule applies).
    """
    copies: dict[str, list[SourceItem]] = defaultdict(list)
    for s in sources:
        if s.same_event:
            copies[s.same_event].append(s)
    out: dict[tuple[str, str], SourceItem | None] = {}
    for key, group in copies.items():
        if len({c.calendar.google_id for c in group}) < 2:
            continue
        held = {c.calendar.google_id for c in group}
        for t in targets:
            if t.google_id in held:
                out[(key, t.google_id)] = None
                continue
            out[(key, t.google_id)] = min(
                group,
                key=lambda c: (not has_block(c, t), c.calendar.google_id, c.google_event_id),
            )
    return out


def build_plan(
    calendars: Sequence[CalendarRef],
    sources: Sequence[SourceItem],
    blocks: Sequence[BlockItem],
    *,
    installation_id: str,
    settings: Settings,
    unavailable: frozenset[str] = frozenset(),
    stamp: bool = True,
) -> Plan:
    """Mutations that make Google match the desired state.

    `unavailable` holds Google calendar ids we cannot write this cycle (account needs
    sign-in): nothing is planned on them, and their sources still count as live.
    `stamp=False` plans no stamping (legacy mode everywhere, or a read-only preview).
    """
    targets = [c for c in calendars if c.writable and c.google_id not in unavailable]
    muts: list[PlannedMutation] = []

    def add(
        op: Op,
        cal: CalendarRef,
        gid: str,
        cid: str | None,
        scid: str | None,
        body: GoogleEvent | None,
        before: GoogleEvent | None,
        reason: str,
    ) -> None:
        muts.append(
            PlannedMutation(
                op, cal.google_id, cal.local_id, cal.account, gid, cid, scid, body, before, reason
            )
        )

    # Stamps: once per Google event to stamp (the series master for instances).
    stamped_done: set[tuple[str, str]] = set()
    for s in sources:
        cal = s.calendar
        if s.stamped or not stamp or cal.mode == EngineMode.LEGACY:
            continue
        if not cal.writable or cal.google_id in unavailable or not s.stamp_event_id:
            continue
        key = (cal.google_id, s.stamp_event_id)
        if key in stamped_done:
            continue
        stamped_done.add(key)
        # what the person knows the event by (plan lines: `service.plans.mutation_line`);
        # a series master's own times are not known here, only its instance's
        before: GoogleEvent = {"id": s.stamp_event_id, "summary": s.summary}
        if s.stamp_event_id == s.google_event_id:
            before.update(start=s.start, end=s.end)
        add(
            Op.STAMP,
            cal,
            s.stamp_event_id,
            s.stamp_id,
            None,
            stamp_body(s.stamp_id, installation_id),
            before,
            "new user event: assign correlation id",
        )

    # Index actual blocks.
    ours: dict[tuple[str, str], list[BlockItem]] = defaultdict(list)
    deleted_ours: dict[tuple[str, str], BlockItem] = {}
    legacy_by_key: dict[tuple[str, str, str, str], list[BlockItem]] = defaultdict(list)
    claimed: set[int] = set()
    for b in blocks:
        if b.legacy:
            if b.live and not b.cascade and b.legacy_suffix is not None:
                legacy_by_key[
                    (b.calendar.google_id, b.legacy_suffix, b.start_key, b.end_key)
                ].append(b)
            continue
        if b.live and b.source_correlation_id:
            ours[(b.calendar.google_id, b.source_correlation_id)].append(b)
        elif not b.live:
            # by the block's correlation id: whichever generation of its id was deleted
            # (writes/ids.py), the planner asks with generation 0's
            block_cid = correlation_of(b.google_event_id) or b.correlation_id
            deleted_ours[(b.calendar.google_id, block_cid or b.google_event_id)] = b

    owners = same_event_owners(
        sources, targets, lambda s, t: bool(ours.get((t.google_id, s.correlation_id)))
    )
    # Blocks of a copy that must not mirror onto a target: deleted as duplicates below.
    not_mirrored: dict[tuple[str, str], str] = {}
    for s in sources:
        s_start, s_end = when_key(s.start), when_key(s.end)
        for t in targets:
            if t.google_id == s.calendar.google_id:
                continue
            owner = owners.get((s.same_event, t.google_id), s) if s.same_event else s
            if owner is not s:
                not_mirrored[(t.google_id, s.correlation_id)] = (
                    "duplicate block: the target holds the same event"
                    if owner is None
                    else "duplicate block: another copy of the same event mirrors it"
                )
                continue
            desired = block_body(s, t, installation_id=installation_id, settings=settings)
            gid = desired["id"]
            cid = desired["extendedProperties"]["private"][KEY_ID]
            have = sorted(
                ours.get((t.google_id, s.correlation_id), []),
                key=lambda b: (b.google_event_id != gid, b.google_event_id),
            )
            legacy = [
                b
                for b in legacy_by_key.get((t.google_id, s.summary, s_start, s_end), [])
                if id(b) not in claimed
            ]
            for b in have:
                claimed.add(id(b))
            if have:
                keep, extra = have[0], have[1:]
                for lb in legacy:
                    claimed.add(id(lb))
                    extra.append(lb)
                want = desired if keep.google_event_id == gid else _retarget(desired, keep)
                if keep.legacy_title and t.mode != EngineMode.UUID:
                    if (keep.start_key, keep.end_key) != (s_start, s_end):
                        times = {"start": want["start"], "end": want["end"], "status": "confirmed"}
                        add(
                            Op.PATCH,
                            t,
                            keep.google_event_id,
                            keep.correlation_id,
                            s.correlation_id,
                            times,
                            keep.before,
                            "block times follow its source (legacy title kept until cutover)",
                        )
                elif keep.digest != mirror_digest(want):
                    add(
                        Op.PATCH,
                        t,
                        keep.google_event_id,
                        keep.correlation_id,
                        s.correlation_id,
                        patch_body(want),
                        keep.before,
                        "block differs from its source",
                    )
            elif legacy:
                keep, extra = legacy[0], list(legacy[1:])
                claimed.add(id(keep))
                for lb in extra:
                    claimed.add(id(lb))
            else:
                extra = []
                gone = deleted_ours.get((t.google_id, cid)) or deleted_ours.get((t.google_id, gid))
                if gone is not None and gone.deleted_by_hand and settings.respect_manual_deletion:
                    continue
                reason = (
                    "restore block deleted by hand"
                    if gone is not None and gone.deleted_by_hand
                    else "missing block"
                )
                add(Op.INSERT, t, gid, cid, s.correlation_id, desired, None, reason)
            for b in extra:
                add(
                    Op.DELETE,
                    t,
                    b.google_event_id,
                    b.correlation_id,
                    b.source_correlation_id,
                    None,
                    b.before,
                    "duplicate block",
                )

    # Everything live and unclaimed on a writable calendar is an orphan or a cascade.
    writable_ids = {t.google_id for t in targets}
    for b in blocks:
        if not b.live or id(b) in claimed or b.calendar.google_id not in writable_ids:
            continue
        if not b.in_window:
            continue
        reason = (
            "cascade (block of a block)"
            if b.cascade
            else not_mirrored.get(
                (b.calendar.google_id, b.source_correlation_id or ""),
                "orphan: its source is gone",
            )
        )
        add(
            Op.DELETE,
            b.calendar,
            b.google_event_id,
            b.correlation_id,
            b.source_correlation_id,
            None,
            b.before,
            reason,
        )
    return Plan.of(muts)


def _retarget(desired: GoogleEvent, keep: BlockItem) -> GoogleEvent:
    """Desired content for a block of ours whose id is not the deterministic one."""
    out = copy.deepcopy(desired)
    out["id"] = keep.google_event_id
    if keep.correlation_id:
        out["extendedProperties"]["private"][KEY_ID] = keep.correlation_id
    return out
