"""Phases 0 and 1: discover (the read-only inventory) and prepare (legacy blocks linked
locally, every enabled calendar in `legacy` mode)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from calsync_tui import clock
from calsync_tui.engine.model import EngineMode, EventClass
from calsync_tui.migration import gates
from calsync_tui.migration.env import (
    MigrationEnv,
    Snapshot,
    read_snapshot,
    require_calendars,
)
from calsync_tui.migration.phases import (
    Phase,
    advance,
    load_state,
    record_event,
    record_gate,
)
from calsync_tui.migration.results import (
    CalendarCounts,
    InventoryReport,
)
from local_store.models import Calendar, EventState, SyncRun


def discover_report(snap: Snapshot) -> InventoryReport:
    """Per calendar counts per class and the legacy findings, plus the lists themselves."""
    inv = snap.inventory
    per_cal = inv.counts()
    names = {c.google_id: c.summary for c in snap.calendars}
    totals: dict[str, int] = {}
    for counts in per_cal.values():
        for k, v in counts.items():
            totals[k] = totals.get(k, 0) + v
    return InventoryReport(
        calendars=[
            CalendarCounts(cal, names.get(cal, ""), counts) for cal, counts in per_cal.items()
        ],
        totals=totals,
        events_seen=len(inv.items),
        fingerprint=inv.fingerprint(),
        api_calls=snap.api_calls,
        links=inv.links,
    )


def discover(env: MigrationEnv) -> InventoryReport:
    """Read-only inventory. Records that an inventory exists (the discover gate)."""
    started = clock.now()
    with env.store.session() as session:
        cals = require_calendars(session)
    snap = read_snapshot(env, cals)
    report = replace(discover_report(snap), foreign=_foreign(snap, env))  # adoption notice
    with env.store.session() as session:
        state = load_state(session)
        record_gate(state, gates.discover_gate(True, report.events_seen))
        record_event(state, "discover", totals=short_totals(report.totals))
        session.add(state)
        _sync_run(session, "discover", started, snap, report.totals)
        session.commit()
    return report


def _foreign(snap: Snapshot, env: MigrationEnv) -> list[dict[str, Any]]:
    """Other installations' stamps and blocks among the listed events (engine.foreign)."""
    from calsync_tui.engine.foreign import summarize_events

    local = {c.google_id: c.local_id for c in snap.calendars}
    return [
        f.to_json()
        for f in summarize_events(
            (
                (local.get(i.calendar, 0), i.calendar, i.event, i.info)
                for i in snap.inventory.items
                if i.info is not None
            ),
            interval_seconds=env.settings.sync_interval_seconds,
            now=env.now(),
        )
    ]


def short_totals(totals: Mapping[str, int]) -> dict[str, int]:
    return {k: v for k, v in totals.items() if v}


def _sync_run(
    session: Session,
    kind: str,
    started: datetime,
    snap: Snapshot | None,
    classes: Mapping[str, int],
) -> None:
    now = clock.now()
    session.add(
        SyncRun(
            kind=kind,
            started_at=started,
            finished_at=now,
            duration_ms=(now - started).total_seconds() * 1000,
            events_seen=len(snap.inventory.items) if snap else 0,
            classes_json=json.dumps(dict(classes)),
            api_calls=snap.api_calls if snap else 0,
        )
    )


def prepare(env: MigrationEnv) -> InventoryReport:
    """Enter phase 1: link legacy blocks locally and check the prepare gate.

    The store was already backed up and upgraded by `open_store`. Every enabled calendar
    is put in `legacy` mode (today's behaviour) until rollout picks it.
    """
    with env.store.session() as session:
        state = load_state(session)
        g = json.loads(state.gates_json or "{}").get("discover", {})
        advance(
            state,
            Phase.PREPARE,
            gates.discover_gate(bool(g.get("passed")), g.get("details", {}).get("events_seen", 0)),
        )
        session.add(state)
        session.commit()
        cals = require_calendars(session)
    snap = read_snapshot(env, cals)
    report = discover_report(snap)
    inv = snap.inventory
    legacy = report.totals.get(EventClass.LEGACY_BUSY_BLOCK.value, 0)
    gate = gates.prepare_gate(
        legacy, len(inv.links.links), len(inv.links.unlinked), len(inv.links.ambiguous)
    )
    with env.store.session() as session:
        state = load_state(session)
        if state.phase <= Phase.PREPARE:
            for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True))):
                c.engine_mode = EngineMode.LEGACY
                session.add(c)
        _store_links(session, snap)
        record_gate(state, gate)
        record_event(state, "prepare", linked=len(inv.links.links), passed=gate.passed)
        session.add(state)
        session.commit()
    return replace(report, gate=gate)


def _store_links(session: Session, snap: Snapshot) -> None:
    """Keep each legacy block's link locally (EventState of the block, source id)."""
    from calsync_tui.engine.fields import time_columns
    from calsync_tui.engine.model import block_correlation_id

    local = {c.google_id: c.local_id for c in snap.calendars}
    zones = {c.google_id: c.time_zone for c in snap.calendars}
    by_ref = {i.ref: i for i in snap.inventory.items}
    for lk in snap.inventory.links.links:
        src = by_ref[lk.source]
        key = src.correlation_id
        cid = block_correlation_id(key, lk.block.calendar)
        block = by_ref[lk.block].event
        existing = session.get(EventState, cid)
        row = existing or EventState(
            correlation_id=cid,
            calendar_id=local[lk.block.calendar],
            google_event_id=lk.block.event_id,
        )
        row.google_event_id = lk.block.event_id
        row.calendar_id = local[lk.block.calendar]
        row.event_type = "busy_block"
        row.event_class = EventClass.LEGACY_BUSY_BLOCK
        row.source_correlation_id = key
        row.summary = str(block.get("summary") or "")
        row.etag = block.get("etag")
        row.recurring_event_id = block.get("recurringEventId")
        # the engine reads all-day-ness and zone from the row: keep its form exactly
        times = time_columns(block, zones.get(lk.block.calendar)) or {
            "start": _raw_when(block.get("start")),
            "end": _raw_when(block.get("end")),
        }
        for column, value in times.items():
            setattr(row, column, value)
        row.last_seen = clock.now()
        clash = session.exec(
            select(EventState).where(
                EventState.calendar_id == row.calendar_id,
                EventState.google_event_id == row.google_event_id,
                EventState.correlation_id != cid,
            )
        ).first()
        if clash is not None:
            session.delete(clash)
            session.flush()
        session.add(row)


def _raw_when(value: Any) -> str:
    when = value if isinstance(value, dict) else {}
    return str(when.get("dateTime") or when.get("date") or "")
