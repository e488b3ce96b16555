"""Adoption: another installation's markers on your enabled calendars become yours.

After a new machine or a lost home, the earlier installation's stamps and busy blocks
carry its `calsync_instance`, so this installation classes them `external_calsync`
(never touched, never a source). Adopting makes them this installation's, in two ways:

- **take over** (zero writes): when this installation has written nothing to Google yet
  and every one of the other's markers on your enabled calendars is adoptable, this home
  takes the other installation's id as its own (`installation_id`) — exactly the home a
  lost database leaves behind;
- **rewrite**: otherwise each adoptable marker's `calsync_instance` is patched to this
  installation's id (one write per stamped event or series master and per block),
  journaled through the one write path (`execute_plan`, origin `adopt`, full prior
  state), undoable by rollback level 2.

Either way local state is then rebuilt from the markers by the DB-loss recovery path
itself: the enabled calendars' sync tokens are dropped and one ordinary cycle
(`run_cycle`) lists them in full and classifies every marker as ours.

Refused without `force`: blocks whose source is not a stamp of that installation on one
of your enabled calendars (left as they are), and an installation that wrote within the
last sync interval or after this installation's last write (it may still be running).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from calsync_tui import clock
from calsync_tui.engine import scope
from calsync_tui.engine.calendar_ref import enabled_calendar_rows
from calsync_tui.engine.classify import classify
from calsync_tui.engine.cycle import CycleReport, EngineContext, classify_context, run_cycle
from calsync_tui.engine.execute import execute_plan
from calsync_tui.engine.foreign import ForeignInstallation, Marker, summarize_events
from calsync_tui.engine.model import KEY_INSTANCE, EventClass, EventType, Op
from calsync_tui.engine.plan import PlannedMutation
from calsync_tui.engine.reconcile import reconcile
from calsync_tui.engine.window import Window
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import GoogleEvent
from calsync_tui.writes.readback import EventRef, read_events
from local_store.models import Calendar, Mutation

ORIGIN = "adopt"  # = migration.service.ORIGIN_ADOPT (rollback level 2 undoes it)
TAKE_OVER = "take_over"
REWRITE = "rewrite"

_CAL = Calendar.__table__  # type: ignore[attr-defined]
_MUT = Mutation.__table__  # type: ignore[attr-defined]
_OURS = (
    EventClass.TRACKED_USER_EVENT,
    EventClass.BUSY_BLOCK,
    EventClass.ORPHANED_BLOCK,
)


@dataclass
class Adoption:
    """What adopting one installation does (the dry run) and, once run, what it did."""

    installation_id: str
    this_installation: str
    foreign: ForeignInstallation | None
    strategy: str = REWRITE
    force: bool = False
    stamps: int = 0  # stamped events adopted
    blocks: int = 0  # blocks adopted
    left_alone: int = 0  # blocks not adopted (no source on your enabled calendars)
    own_markers: int = 0  # this installation's markers on Google
    mutations: list[PlannedMutation] = field(default_factory=list)
    api_calls: int = 0
    done: bool = False
    written: int = 0
    failed: int = 0
    cycle: CycleReport | None = None

    @property
    def writes(self) -> int:
        return len(self.mutations)

    def refusals(self) -> list[str]:
        if self.foreign is None:
            return [
                f"no stamps or blocks of installation {self.installation_id} on your enabled "
                "calendars (see `calsync-tui status`)"
            ]
        return [] if self.force else self.foreign.refusals()

    def lines(self) -> list[str]:
        out = []
        if self.foreign is not None:
            out.extend(self.foreign.lines()[:1])
        verb = "adopted" if self.done else "would adopt"
        how = (
            f"0 writes: this installation has written nothing yet, so it takes over id "
            f"{self.installation_id} (its own {self.this_installation} is dropped)"
            if self.strategy == TAKE_OVER
            else f"{self.writes} write(s): calsync_instance rewritten to {self.this_installation}"
        )
        out.append(f"{verb} {self.stamps} stamped events and {self.blocks} busy blocks; {how}")
        if self.left_alone:
            out.append(
                f"left alone: {self.left_alone} block(s) whose source is not on your enabled "
                "calendars (--force adopts them; the next cycle then deletes them as orphans)"
            )
        out.extend(f"refused: {r}" for r in self.refusals())
        if self.done:
            out.append(
                f"written {self.written}, failed {self.failed}; local state rebuilt from the "
                "markers by one full listing per calendar (as after a lost database)"
            )
            if self.cycle is not None:
                out.append(f"cycle: {self.cycle.summary()}")
        else:
            out.append(
                "then one full listing per calendar rebuilds local state from the markers "
                "(as after a lost database); rollback level 2 undoes the writes"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "installation_id": self.installation_id,
            "this_installation": self.this_installation,
            "foreign": self.foreign.to_json() if self.foreign else None,
            "strategy": self.strategy,
            "force": self.force,
            "stamps": self.stamps,
            "blocks": self.blocks,
            "left_alone": self.left_alone,
            "own_markers": self.own_markers,
            "writes": self.writes,
            "writes_by_op": {
                op: sum(1 for m in self.mutations if m.op == op) for op in (Op.STAMP, Op.PATCH)
            },
            "api_calls": self.api_calls,
            "refusals": self.refusals(),
            "done": self.done,
            "written": self.written,
            "failed": self.failed,
            "cycle": self.cycle.to_json() if self.cycle else None,
        }


def _iso(value: Any) -> str:
    return str(value.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _has_written(store: Any) -> bool:
    """Whether this home's journal holds any write that reached (or may have reached)
    Google: this installation's id is then on some events (enabled or not)."""
    with store.engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(_MUT).where(_MUT.c.status.in_(("done", "pending")))
        ).scalar()
    return bool(n)


def plan_adoption(ctx: EngineContext, installation_id: str, *, force: bool = False) -> Adoption:
    """Read every enabled calendar once (full listing) and plan the adoption. Writes nothing."""
    try:
        installation_id = str(uuid.UUID(installation_id))
    except ValueError:
        raise CalsyncError(f"not an installation id (a UUID): {installation_id!r}") from None
    ours = ctx.installation_id
    if installation_id == ours:
        raise CalsyncError(f"{installation_id} is this installation's own id: nothing to adopt")
    s = ctx.settings
    with ctx.store.engine.connect() as conn:
        cals = enabled_calendar_rows(conn)
    if not cals:
        raise CalsyncError("no enabled calendars: run `calendars list` and `calendars enable ID`")
    now = clock.now()
    lo, hi = now - timedelta(days=s.window_days_back), now + timedelta(days=s.window_days_ahead)
    entries: list[tuple[int, str, GoogleEvent, Any]] = []
    listed: dict[tuple[int, str], GoogleEvent] = {}
    email_of: dict[int, str] = {}
    units = 0
    own = 0
    for cal in cals:
        gw = ctx.gateway_for(cal.ref.account)
        before = gw.counter.units
        page = gw.list_events(
            cal.ref.google_id, sync_token=None, time_min=_iso(lo), time_max=_iso(hi)
        )
        units += gw.counter.units - before
        cctx = classify_context(cal.ref, s, ours, Window(lo, hi))
        email_of[cal.ref.local_id] = cal.ref.account
        for event in page.events:
            if event.get("status") == "cancelled":
                continue
            cls = classify(event, cctx)
            if cls.event_class in _OURS:
                own += 1
            entries.append((cal.ref.local_id, cal.ref.google_id, event, cls))
            listed[(cal.ref.local_id, str(event.get("id")))] = event
    found = [
        f
        for f in summarize_events(entries, interval_seconds=s.sync_interval_seconds, now=now)
        if f.installation_id == installation_id
    ]
    adoption = Adoption(installation_id, ours, found[0] if found else None, force=force)
    adoption.own_markers = own
    adoption.api_calls = units
    if adoption.foreign is None:
        return adoption
    foreign = adoption.foreign
    sources = foreign.adoptable_sources
    stamps = [m for m in foreign.markers if m.kind != EventType.BUSY_BLOCK]
    blocks = [m for m in foreign.markers if m.kind == EventType.BUSY_BLOCK]
    taken = [b for b in blocks if force or b.source in sources]
    adoption.stamps, adoption.blocks = len(stamps), len(taken)
    adoption.left_alone = len(blocks) - len(taken)
    if own == 0 and adoption.left_alone == 0 and not _has_written(ctx.store):
        adoption.strategy = TAKE_OVER
        return adoption
    adoption.strategy = REWRITE
    adoption.mutations = _rewrites(ctx, stamps, taken, listed, email_of, ours, adoption)
    return adoption


def _rewrites(
    ctx: EngineContext,
    stamps: list[Marker],
    blocks: list[Marker],
    listed: dict[tuple[int, str], GoogleEvent],
    email_of: dict[int, str],
    ours: str,
    adoption: Adoption,
) -> list[PlannedMutation]:
    """One patch of `calsync_instance` per stamped event (a series: its master, once) and
    per block, each with the event's full prior state for rollback level 2."""
    body: GoogleEvent = {"extendedProperties": {"private": {KEY_INSTANCE: ours}}}
    out: list[PlannedMutation] = []
    masters: dict[tuple[int, str], Marker] = {}
    for m in stamps:
        if m.recurring_event_id:
            masters.setdefault((m.calendar_id, m.recurring_event_id), m)
            continue
        out.append(
            PlannedMutation(
                Op.STAMP,
                m.calendar,
                m.calendar_id,
                email_of[m.calendar_id],
                m.google_event_id,
                m.marker_id,
                None,
                body,
                listed.get((m.calendar_id, m.google_event_id)),
                f"adopt: stamp of installation {m.instance}",
            )
        )
    prior = _read_masters(ctx, masters, email_of, adoption)
    for (cal_id, master), m in masters.items():
        out.append(
            PlannedMutation(
                Op.STAMP,
                m.calendar,
                cal_id,
                email_of[cal_id],
                master,
                None,
                None,
                body,
                prior.get((cal_id, master)),
                f"adopt: series stamp of installation {m.instance}",
            )
        )
    for m in blocks:
        out.append(
            PlannedMutation(
                Op.PATCH,
                m.calendar,
                m.calendar_id,
                email_of[m.calendar_id],
                m.google_event_id,
                m.marker_id,
                m.source,
                body,
                listed.get((m.calendar_id, m.google_event_id)),
                f"adopt: block of installation {m.instance}",
            )
        )
    return out


def _read_masters(
    ctx: EngineContext,
    masters: dict[tuple[int, str], Marker],
    email_of: dict[int, str],
    adoption: Adoption,
) -> dict[tuple[int, str], GoogleEvent]:
    """Series masters' full prior state (the listing shows instances): one batched get each."""
    per_email: dict[str, list[EventRef]] = {}
    keys: dict[str, tuple[int, str]] = {}
    for i, ((cal_id, master), m) in enumerate(masters.items()):
        key = f"m{i}"
        keys[key] = (cal_id, master)
        per_email.setdefault(email_of[cal_id], []).append(EventRef(key, m.calendar, master))
    out: dict[tuple[int, str], GoogleEvent] = {}
    for email, refs in per_email.items():
        gw = ctx.gateway_for(email)
        before = gw.counter.units
        for r in read_events(gw, refs, batch_size=ctx.settings.batch_size).values():
            if r.ok and r.event:
                out[keys[r.key]] = r.event
        adoption.api_calls += gw.counter.units - before
    return out


def _drop_sync_tokens(store: Any) -> None:
    """The next cycle lists every enabled calendar in full (as after a lost database)."""
    with store.engine.begin() as conn:
        conn.execute(update(_CAL).where(_CAL.c.enabled.is_(True)).values(sync_token=None))
    scope.forget(store)


def finish_leftovers(ctx: EngineContext) -> int:
    """Re-send the writes a crashed adoption journaled and did not finish."""
    rep = reconcile(
        ctx.store, ctx.gateway_for, batch_size=ctx.settings.batch_size, now=clock.now, origin=ORIGIN
    )
    return rep.resent + rep.gave_up


def run_adoption(
    ctx: EngineContext,
    installation_id: str,
    *,
    force: bool = False,
    set_installation_id: Any = None,
) -> Adoption:
    """Adopt (caller holds the writer lock and has the user's consent). Refusals raise.

    `set_installation_id(new_id)` stores the taken-over id (the home's file)."""
    finish_leftovers(ctx)
    adoption = plan_adoption(ctx, installation_id, force=force)
    refusals = adoption.refusals()
    if refusals:
        raise CalsyncError("; ".join(refusals))
    _drop_sync_tokens(ctx.store)
    if adoption.strategy == TAKE_OVER:
        if set_installation_id is None:
            raise CalsyncError("cannot take the installation id over here")
        set_installation_id(adoption.installation_id)
    elif adoption.mutations:
        gateways = {e: ctx.gateway_for(e) for e in {m.account for m in adoption.mutations}}
        plan_id = f"adopt-{uuid.uuid4()}"
        errors: list[str] = []
        # Stamps first, on every account, then blocks: a crash in between leaves sources
        # of ours whose blocks a cycle finds again by their deterministic ids (409 ->
        # adopted), never blocks of ours whose source is still foreign (orphans).
        for ops in ((Op.STAMP,), (Op.PATCH,)):
            report = execute_plan(
                ctx.store,
                [m for m in adoption.mutations if m.op in ops],
                gateways,
                plan_id=plan_id,
                batch_size=ctx.settings.batch_size,
                now=clock.now,
                origin=ORIGIN,
            )
            adoption.written += report.done_total
            adoption.failed += report.failed_total
            errors.extend(report.errors)
        if adoption.failed:
            raise CalsyncError(
                f"adoption: {adoption.failed} write(s) failed ({'; '.join(errors[:3])}); "
                "run adopt again to finish"
            )
    adoption.cycle = run_cycle(ctx)  # the DB-loss recovery path: full listing, rebuild
    adoption.done = True
    return adoption
