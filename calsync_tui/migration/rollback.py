"""Rollback levels 1-3 and auto-rollback.

- Level 1: engine mode back to `legacy` (per calendar or all). No Google writes.
- Level 2: undo the migration's journaled Google writes (backfill and cutover), newest
  first. A patch is undone by a patch that puts back each field it touched (fields and
  `calsync_*` keys that did not exist are patched to null, since patch merges); an insert
  is undone by a delete; a delete by re-inserting the prior event with its own id (the
  gateway revives a cancelled id). Before undoing, the event's current content is read
  (batched gets) and compared with what our write left: if someone edited it since, the
  edit is reported and kept unless `force`. Each undo is journaled (`origin=rollback`,
  prior state included) and marks the original row `undone`, so a crashed rollback
  resumes where it stopped and a second run writes nothing.
- Level 3: write a backup of the DB (0600) then drop local correlation state: every
  EventState row and the migration state (back to phase 0, modes legacy). The journal is
  kept: it is the audit trail, and the only way to run level 2 later.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, update
from sqlmodel import Session, col, delete, func, select

from calsync_tui import clock
from calsync_tui.engine.model import EngineMode, MutationStatus, Op
from calsync_tui.errors import CalsyncError, UsageError
from calsync_tui.google.types import GoogleEvent
from calsync_tui.migration import journal
from calsync_tui.migration.env import CalendarRef, MigrationEnv, enabled_calendars, window
from calsync_tui.migration.events import VOLATILE_FIELDS, content
from calsync_tui.migration.origins import MIGRATION_ORIGINS, ORIGIN_ROLLBACK
from calsync_tui.migration.phases import Phase, load_state, record_event, set_phase_back
from calsync_tui.migration.results import JournalCounts, RollbackResult, RunResult
from calsync_tui.writes import journal as write_journal
from calsync_tui.writes.lost_ids import next_id
from calsync_tui.writes.readback import EventRef, read_events
from calsync_tui.writes.record import Record, Write
from local_store.db import backup_file
from local_store.models import Alert, Calendar, EventState, Mutation

_MUT = Mutation.__table__  # type: ignore[attr-defined]

# Fields Google owns; never sent back when re-creating an event.
READ_ONLY_FIELDS = VOLATILE_FIELDS | {
    "creator",
    "organizer",
    "iCalUID",
    "recurringEventId",
    "originalStartTime",
    "hangoutLink",
    "conferenceData",
}


@dataclass
class UndoStep:
    """One planned undo: what is restored, how, and whether the user changed it since."""

    mutation_id: int
    op: str  # the original op being undone
    calendar: str
    event_id: str
    action: str  # patch | update | delete | insert | none
    body: GoogleEvent | None
    conflict: str | None = None
    current: GoogleEvent | None = None
    mutation_ids: list[int] = field(default_factory=list)
    new_id: str | None = None  # re-created under a new id (the old one is lost for good)

    def to_json(self) -> dict[str, Any]:
        return {
            "mutation_id": self.mutation_id,
            "undoes": self.op,
            "calendar": self.calendar,
            "event_id": self.event_id,
            "action": self.action,
            "body": self.body,
            "conflict": self.conflict,
            "journal_rows": self.mutation_ids,
            "new_id": self.new_id,
        }


@dataclass
class RollbackPreview:
    level: int
    scope: str | None
    summary: str
    calendars: list[str] = field(default_factory=list)
    steps: list[UndoStep] = field(default_factory=list)
    drops: dict[str, int] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[UndoStep]:
        return [s for s in self.steps if s.conflict]

    def to_json(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "scope": self.scope,
            "summary": self.summary,
            "calendars": self.calendars,
            "steps": [s.to_json() for s in self.steps],
            "conflicts": [s.to_json() for s in self.conflicts],
            "drops": self.drops,
        }


# --- level 1 ------------------------------------------------------------------------------


def _scoped_calendars(session: Session, scope: str | None) -> list[Calendar]:
    rows = list(session.exec(select(Calendar).where(col(Calendar.enabled).is_(True))))
    if scope is not None:
        rows = [c for c in rows if c.google_id == scope]
        if not rows:
            raise CalsyncError(f"calendar {scope!r} is not an enabled calendar")
    return rows


def level1(session: Session, scope: str | None, why: str, *, dry_run: bool = False) -> list[str]:
    """Engine mode back to legacy; returns the calendars that changed."""
    changed = []
    for c in _scoped_calendars(session, scope):
        if c.engine_mode != EngineMode.LEGACY:
            changed.append(c.google_id)
            if not dry_run:
                c.engine_mode = EngineMode.LEGACY
                c.updated_at = clock.now()
                session.add(c)
    if not dry_run:
        state = load_state(session)
        state.legacy_detection = True
        if scope is None:
            set_phase_back(state, min(Phase(state.phase), Phase.BACKFILL), why)
            state.rollout_percent = 0
        record_event(state, "rollback", level=1, scope=scope, calendars=changed, why=why)
        session.add(state)
        session.commit()
    return changed


# --- level 2 ------------------------------------------------------------------------------


def _undo_rows(session: Session, scope_local: int | None) -> list[Mutation]:
    """Done writes of the migration era, newest first: the migration's own (backfill,
    cutover) and the engine's sync writes made after the migration's first write (the
    hybrid engine normalises adopted blocks; those must be undone too for exactness)."""
    first = session.exec(
        select(func.min(Mutation.id)).where(
            col(Mutation.origin).in_(MIGRATION_ORIGINS), Mutation.status == MutationStatus.DONE
        )
    ).one()
    if first is None:
        return []
    q = (
        select(Mutation)
        .where(
            Mutation.status == MutationStatus.DONE,
            col(Mutation.id) >= first,
            col(Mutation.origin).in_((*MIGRATION_ORIGINS, "sync")),
        )
        .order_by(col(Mutation.id).desc())
    )
    if scope_local is not None:
        q = q.where(Mutation.calendar_id == scope_local)
    return list(session.exec(q))


def restore_patch(current: GoogleEvent, target: GoogleEvent, top: bool = True) -> dict[str, Any]:
    """A patch turning `current` into `target` (patch merges: absent keys patched to null)."""
    skip = READ_ONLY_FIELDS | {"id"} if top else frozenset()
    out: dict[str, Any] = {}
    for key, want in target.items():
        if key in skip:
            continue
        have = current.get(key)
        if have == want:
            continue
        if isinstance(want, dict) and isinstance(have, dict):
            out[key] = restore_patch(have, want, top=False)
        else:
            out[key] = want
    for key in current:
        if key not in target and key not in skip and current[key] is not None:
            out[key] = None
    return out


def _alive(event: GoogleEvent | None) -> bool:
    return event is not None and event.get("status") != "cancelled"


def plan_level2(
    env: MigrationEnv, scope: str | None, *, probe_deleted: bool = False
) -> RollbackPreview:
    """One restoring step per event the migration era wrote: back to its content before
    the first such write. Reads each event's current copy (batched gets)."""
    with env.store.session() as session:
        cals = enabled_calendars(session)
        by_local = {c.local_id: c for c in cals}
        by_google = {c.google_id: c for c in cals}
        if scope is not None and scope not in by_google:
            raise CalsyncError(f"calendar {scope!r} is not an enabled calendar")
        rows = _undo_rows(session, by_google[scope].local_id if scope else None)
    rows = [m for m in rows if m.calendar_id in by_local]
    current = _read_current(env, rows, by_local, probe_deleted=probe_deleted)
    per_event: dict[tuple[int, str], list[Mutation]] = {}
    for m in rows:  # newest first
        per_event.setdefault((m.calendar_id, m.google_event_id), []).append(m)
    steps: list[UndoStep] = []
    for (cal_local, event_id), ms in per_event.items():
        newest, oldest = ms[0], ms[-1]
        cal = by_local[cal_local]
        now = current.get(str(newest.id))
        ids = [int(m.id or 0) for m in ms]
        step = UndoStep(ids[-1], oldest.op, cal.google_id, event_id, "none", None, None, now, ids)
        if oldest.op == Op.INSERT:
            if _alive(now):
                step.action = "delete"
        else:
            target = Record.of(oldest).before
            if not isinstance(target, dict) or set(target) <= {
                "id",
                "summary",
                "start",
                "end",
                "etag",
            }:
                step.conflict = "no full prior state journaled; left as is"
            elif not _alive(now):
                body = {k: v for k, v in target.items() if k not in READ_ONLY_FIELDS}
                step.event_id = event_id
                if now is None and probe_deleted:
                    # read alone and answered 404: purged from the trash: Google never frees the id, so it comes
                    # back under the next generation of it (journaled before the insert)
                    got = next_id(cal.google_id, event_id)
                    if got is not None:
                        step.event_id, step.new_id = got[0], got[0]
                body["id"] = step.event_id
                body.setdefault("status", "confirmed")
                step.action, step.body = "insert", body
            else:
                assert now is not None
                body = restore_patch(now, target)
                if body and set(body) <= {"extendedProperties"}:
                    # only our properties changed (stamps): nulling the added keys is a
                    # patch any caller may send, organiser or not
                    step.action, step.body = "patch", body
                elif body:
                    # content changed too (adopted/retitled blocks): PUT the whole prior
                    # event, exact whatever the server's merge rules for nested fields
                    full = {k: v for k, v in target.items() if k not in READ_ONLY_FIELDS}
                    full.pop("id", None)
                    step.action, step.body = "update", full
        expected = Record.of(newest).result if newest.origin in MIGRATION_ORIGINS else None
        if step.conflict is None and step.action != "none":
            if newest.op == Op.DELETE:
                if _alive(now):
                    step.conflict = "the deleted event exists again"
            elif not _alive(now) and oldest.op != Op.DELETE:
                step.conflict = "event deleted since the migration wrote it"
            elif expected is not None and content(now) != content(expected):
                step.conflict = "event edited since the migration wrote it"
        steps.append(step)
    steps.sort(key=lambda st: -max(st.mutation_ids or [st.mutation_id]))
    renewed = sum(1 for s in steps if s.new_id)
    summary = (
        f"restore {sum(1 for s in steps if s.action != 'none')} event(s) to their pre-migration "
        f"content ({len(rows)} journaled write(s)){' on ' + scope if scope else ''}; "
        f"{len([s for s in steps if s.conflict])} conflict(s)"
        + (
            f"; {renewed} come(s) back under a new id (the old one is gone for good)"
            if renewed
            else ""
        )
    )
    return RollbackPreview(2, scope, summary, sorted({s.calendar for s in steps}), steps)


LIST_THRESHOLD = 3  # from this many events on one calendar, one listing beats gets


def _read_current(
    env: MigrationEnv,
    rows: Sequence[Mutation],
    by_local: Mapping[int, CalendarRef],
    *,
    probe_deleted: bool = False,
) -> dict[str, GoogleEvent | None]:
    """Current Google copy of each distinct event the rows touched, at the least cost:
    one listing of a calendar with several such events (quota: one unit per page), then
    batched gets for what the listing cannot show (series masters, events out of the
    window, events we wrote a delete for are known gone when absent from the listing)."""
    newest: dict[tuple[int, str], Mutation] = {}
    for m in rows:  # newest first
        newest.setdefault((m.calendar_id, m.google_event_id), m)
    per_cal: dict[int, list[tuple[int, str]]] = {}
    for key in newest:
        per_cal.setdefault(key[0], []).append(key)
    found: dict[tuple[int, str], GoogleEvent | None] = {}
    time_min, time_max = window(env)
    for cal_local, keys in per_cal.items():
        if len(keys) < LIST_THRESHOLD:
            continue
        cal = by_local[cal_local]
        page = env.gateway_for(cal.email).list_events(
            cal.google_id, sync_token=None, time_min=time_min, time_max=time_max
        )
        listed = {str(e.get("id")): e for e in page.events if e.get("status") != "cancelled"}
        for key in keys:
            if key[1] in listed:
                found[key] = listed[key[1]]
            elif newest[key].op == Op.DELETE and not probe_deleted:
                found[key] = None  # we deleted it and it is still not there
            # the preview reads a deleted event alone: `cancelled` while its id can be
            # revived, 404 once purged (it comes back under a new id). The run itself
            # learns that from the insert's answer (the write path's lost-id handling).
    per_email: dict[str, list[EventRef]] = {}
    for key, m in newest.items():
        if key in found:
            continue
        cal = by_local[m.calendar_id]
        per_email.setdefault(cal.email, []).append(
            EventRef(str(m.id), cal.google_id, m.google_event_id)
        )
    by_id = {str(m.id): m for m in newest.values()}
    for email, refs in per_email.items():
        got = read_events(env.gateway_for(email), refs, batch_size=env.settings.batch_size)
        for r in got.values():
            m = by_id[r.key]
            if not r.ok:
                raise CalsyncError(
                    f"cannot read {m.google_event_id}: {r.status} {r.reason or ''}".strip()
                )
            found[(m.calendar_id, m.google_event_id)] = r.event
    return {str(m.id): found.get((m.calendar_id, m.google_event_id)) for m in rows}


def level2(
    env: MigrationEnv,
    scope: str | None,
    *,
    force: bool = False,
    progress: journal.ProgressCallback | None = None,
) -> RollbackResult:
    """Restore every event the migration era wrote; conflicts kept unless `force`."""
    preview = plan_level2(env, scope)
    rollback_id = f"rollback-{uuid.uuid4()}"
    kept: list[dict[str, Any]] = []
    with env.store.session() as session:
        cals = enabled_calendars(session)
        by_google = {c.google_id: c for c in cals}
        stale = session.exec(
            select(Mutation).where(
                Mutation.origin == ORIGIN_ROLLBACK,
                col(Mutation.status).in_((MutationStatus.PENDING, MutationStatus.FAILED)),
            )
        )
        for old in stale:  # an interrupted rollback: its steps are planned again here
            old.status = MutationStatus.SKIPPED
            session.add(old)
        restores: list[Write] = []
        for step in preview.steps:
            if step.conflict and not force:
                kept.append(step.to_json())
                continue
            if step.action == "none":
                _mark_undone(session, step.mutation_ids)
                continue
            restores.append(
                Write(
                    op=Op.RESTORE,
                    calendar_id=by_google[step.calendar].local_id,
                    google_event_id=step.event_id,
                    body=step.body,
                    before=step.current or None,
                    reason=f"restore pre-migration content ({step.action})",
                    gateway_op=step.action,
                    undoes=tuple(step.mutation_ids),
                )
            )
        seq = len(restores)
        write_journal.journal(
            session.connection(),
            restores,
            plan_id=rollback_id,
            origin=ORIGIN_ROLLBACK,
            now=clock.now(),
            seq_start=1,
        )
        state = load_state(session)
        state.active_plan_id = rollback_id
        record_event(
            state, "rollback_started", level=2, scope=scope, writes=seq, conflicts=len(kept)
        )
        session.add(state)
        session.commit()
    result = run_rollback_rows(env, rollback_id, progress=progress)
    with env.store.session() as session:
        c = journal.counts(session, rollback_id)
        complete = not (c[MutationStatus.FAILED] or c[MutationStatus.PENDING] or result.paused)
        if complete:
            level1(session, scope, "rollback level 2")
            state = load_state(session)
            if scope is None:
                set_phase_back(state, min(Phase(state.phase), Phase.PREPARE), "rollback level 2")
                state.approved_plan_id = None
                state.active_plan_id = None
        state = load_state(session)
        record_event(
            state, "rollback", level=2, scope=scope, journal=c, kept=len(kept), complete=complete
        )
        session.add(state)
        session.commit()
    run = RunResult(rollback_id, result, JournalCounts(c), complete=complete, rollback=True)
    return RollbackResult(2, run=run, kept_conflicts=kept)


def _mark_undone(session: Session, ids: Sequence[int]) -> None:
    for mid in ids:
        original = session.get(Mutation, mid)
        if original is not None and original.status == MutationStatus.DONE:
            original.status = MutationStatus.UNDONE
            original.updated_at = clock.now()
            session.add(original)


def run_rollback_rows(
    env: MigrationEnv, rollback_id: str, *, progress: journal.ProgressCallback | None = None
) -> journal.Progress:
    """Execute a rollback's journal; marks the restored rows `undone`."""

    def mark(conn: Connection, record: Record) -> None:
        if record.write.undoes:
            conn.execute(
                update(_MUT)
                .where(_MUT.c.id.in_(record.write.undoes))
                .where(_MUT.c.status == str(MutationStatus.DONE))
                .values(status=str(MutationStatus.UNDONE), updated_at=clock.now())
            )

    with env.store.session() as session:
        cals = enabled_calendars(session)
    return journal.run_rows(
        env,
        rollback_id,
        cals,
        batch_size=env.settings.batch_size,
        progress=progress,
        check_pause=False,
        on_done=mark,
    )


# --- level 3 ------------------------------------------------------------------------------


def level3_counts(session: Session, scope_local: int | None) -> dict[str, int]:
    q = select(EventState)
    if scope_local is not None:
        q = q.where(EventState.calendar_id == scope_local)
    return {"event_states": len(list(session.exec(q)))}


def level3(env: MigrationEnv, scope: str | None) -> RollbackResult:
    """Backup file first (0600), then drop correlation state."""
    backup = backup_file(env.store.db_path, env.store.backups_dir, "rollback-l3")
    with env.store.session() as session:
        scope_local = None
        if scope is not None:
            cal = _scoped_calendars(session, scope)[0]
            scope_local = cal.id
        dropped = level3_counts(session, scope_local)
        stmt = delete(EventState)
        if scope_local is not None:
            stmt = stmt.where(col(EventState.calendar_id) == scope_local)
        session.exec(stmt)
        session.commit()
        level1(session, scope, "rollback level 3")
        state = load_state(session)
        if scope is None:
            set_phase_back(state, Phase.DISCOVER, "rollback level 3")
            state.gates_json = "{}"
            state.rollout_percent = 0
            state.active_plan_id = None
            state.approved_plan_id = None
            state.paused = False
        record_event(state, "rollback", level=3, scope=scope, backup=str(backup), dropped=dropped)
        session.add(state)
        session.commit()
    return RollbackResult(3, backup=str(backup), dropped=dropped)


# --- preview for the confirmation modal ---------------------------------------------------------


def rollback_preview(env: MigrationEnv, level: int, scope: str | None = None) -> RollbackPreview:
    """Exactly what a rollback of `level` would do; reads Google only for level 2."""
    if level not in (1, 2, 3):
        raise UsageError("--level must be 1, 2 or 3")
    if level == 2:
        return plan_level2(env, scope, probe_deleted=True)
    with env.store.session() as session:
        if level == 1:
            changed = level1(session, scope, "preview", dry_run=True)
            return RollbackPreview(
                1,
                scope,
                f"{len(changed)} calendar(s) back to legacy mode, no Google writes",
                changed,
            )
        scope_local = _scoped_calendars(session, scope)[0].id if scope else None
        drops = level3_counts(session, scope_local)
    return RollbackPreview(
        3,
        scope,
        f"write a backup to {env.store.backups_dir}, then drop {drops['event_states']} correlation row(s); journal kept",
        drops=drops,
    )


# --- auto-rollback --------------------------------------------------------------------------


def _field(report: Any, name: str, default: Any = None) -> Any:
    if isinstance(report, Mapping):
        return report.get(name, default)
    return getattr(report, name, default)


def check_auto_rollback(session: Session, report: Any, error_rate_limit: float = 0.05) -> list[str]:
    """After a sync cycle: a cascade or an error rate over the limit drops the affected
    hybrid calendars to legacy (level 1), raises an Alert and returns why (one line each).

    `report` is the cycle's SyncRun or any object/mapping with `cascades`, `success_rate`
    (or `failed` and `mutations`), and optionally `per_calendar` = {calendar google id or
    local id: {"cascades": n, "failed": n, "writes": n}} to limit the rollback to the
    calendars involved. Outside rollout (no hybrid calendar) it does nothing.
    """
    hybrid = [
        c
        for c in session.exec(select(Calendar).where(col(Calendar.enabled).is_(True)))
        if c.engine_mode == EngineMode.HYBRID
    ]
    if not hybrid:
        return []
    per = _field(report, "per_calendar") or {}
    affected: dict[str, str] = {}
    if per:
        for c in hybrid:
            info = per.get(c.google_id) or per.get(c.id) or {}
            cas = int(_field(info, "cascades", 0) or 0)
            writes = int(_field(info, "writes", 0) or 0)
            failed = int(_field(info, "failed", 0) or 0)
            if cas:
                affected[c.google_id] = f"{cas} cascade(s) detected"
            elif writes and failed / writes > error_rate_limit:
                affected[c.google_id] = (
                    f"error rate {failed / writes:.1%} over {error_rate_limit:.1%}"
                )
    else:
        cas = int(_field(report, "cascades", 0) or 0)
        rate = _field(report, "success_rate", 1.0)
        err = 1.0 - float(rate if rate is not None else 1.0)
        why = None
        if cas:
            why = f"{cas} cascade(s) detected"
        elif err > error_rate_limit:
            why = f"error rate {err:.1%} over {error_rate_limit:.1%}"
        if why:
            affected = {c.google_id: why for c in hybrid}
    messages: list[str] = []
    for cal_id, why in sorted(affected.items()):
        level1(session, cal_id, f"auto-rollback: {why}")
        msg = f"auto-rollback: {cal_id} back to legacy mode ({why})"
        local = next((c.id for c in hybrid if c.google_id == cal_id), None)
        session.add(Alert(level="error", kind="auto_rollback", message=msg, calendar_id=local))
        messages.append(msg)
    if messages:
        session.commit()
    return messages


def resume_rollback(env: MigrationEnv) -> RunResult | None:
    """Finish a rollback interrupted by a crash (its journal rows still pending)."""
    with env.store.session() as session:
        state = load_state(session)
        plan_id = state.active_plan_id
        if not plan_id or not plan_id.startswith("rollback-"):
            return None
        c = journal.counts(session, plan_id)
    if not (c[MutationStatus.PENDING] or c[MutationStatus.FAILED]):
        return None
    result = run_rollback_rows(env, plan_id)
    with env.store.session() as session:
        c = journal.counts(session, plan_id)
    return RunResult(plan_id, result, JournalCounts(c), continued=plan_id, rollback=True)
