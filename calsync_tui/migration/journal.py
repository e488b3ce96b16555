"""The migration's runs through the one write path (`calsync_tui.writes`).

A plan is journaled whole (`pending`, each event's full prior state) before its first
call; `run_rows` then sends its unfinished rows in batches. Rows that may have reached
Google before a crash are settled first (patches read back, not written twice; inserts
and deletes are idempotent). What the migration adds on top of the write path: its plan
id and seq, origin tags, pause (a flag in `MigrationState`, read between batches, so
another process or the TUI can stop a run cleanly), progress with a rate and ETA, and
the rows a rollback undoes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session, col, select

from calsync_tui import clock
from calsync_tui.engine.classify import Seen
from calsync_tui.engine.model import MutationStatus, Op
from calsync_tui.engine.persist import RowSet
from calsync_tui.engine.state import all_correlation_ids, upsert_rows
from calsync_tui.migration.env import CalendarRef, MigrationEnv
from calsync_tui.migration.phases import load_state
from calsync_tui.migration.planner import Inventory, PlannedWrite
from calsync_tui.rate import MovingRate, eta_text
from calsync_tui.writes import executor
from calsync_tui.writes import journal as write_journal
from calsync_tui.writes.executor import Answer, Hooks
from calsync_tui.writes.lockout import pause_line
from calsync_tui.writes.record import Record, Write
from calsync_tui.writes.report import WriteReport
from local_store.models import EventState, Mutation

_MUT = Mutation.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]


@dataclass
class Progress:
    """Where a run stands; `rate` in writes/s over recent batches (`rate.MovingRate`),
    `eta_seconds` None until a rate is known."""

    done: int
    total: int
    failed: int
    rate: float
    eta_seconds: float | None
    paused: bool = False
    note: str | None = None  # why it stopped early (Google's usage limit)

    def line(self) -> str:
        eta = eta_text(self.eta_seconds)
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, "
            f"{self.rate:.1f} writes/s, ETA {eta}" + (f"; {self.note}" if self.note else "")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "failed": self.failed,
            "rate": self.rate,
            "eta_seconds": self.eta_seconds,
            "paused": self.paused,
            "note": self.note,
        }


ProgressCallback = Callable[[Progress], None]


def journal_plan(
    session: Session,
    plan_id: str,
    origin: str,
    writes: Sequence[PlannedWrite],
    cal_ids: dict[str, int],
) -> None:
    """Record every write `pending` with the event's prior state, before any call."""
    write_journal.journal(
        session.connection(),
        [write_of(w, cal_ids) for w in writes],
        plan_id=plan_id,
        origin=origin,
        now=clock.now(),
        seqs=[w.seq for w in writes],
    )
    session.commit()


def keep_rows(
    session: Session,
    inventory: Inventory,
    cals: Sequence[CalendarRef],
    writes: Sequence[PlannedWrite],
) -> int:
    """Give each event a plan changes (every write but an insert) its EventState row when
    it has none yet (no cycle has listed it): a refusal is remembered on that row
    (`writes.refusals.remember`), so no later plan or cycle sends the write again. A
    series master's row is its instances' rows. Rows are the engine's own (`RowSet`, from
    the inventory's classification); existing rows are left alone. Returns rows added."""
    wanted = {(w.calendar, w.event_id) for w in writes if w.op != Op.INSERT}
    if not wanted:
        return 0
    by_google = {c.google_id: c for c in cals}
    conn = session.connection()
    have: set[tuple[int, str]] = set()
    for cal_id, gid, master in conn.execute(
        select(_ES.c.calendar_id, _ES.c.google_event_id, _ES.c.recurring_event_id)
    ):
        have.add((cal_id, gid))
        if master:
            have.add((cal_id, master))
    seen: dict[str, list[Seen]] = {}
    for item in inventory.items:
        cal = by_google.get(item.calendar)
        gid = str(item.event.get("id") or "")
        if cal is None or item.info is None or not gid or item.event.get("status") == "cancelled":
            continue
        master = str(item.event.get("recurringEventId") or "")
        if (item.calendar, gid) not in wanted and (item.calendar, master) not in wanted:
            continue
        if (cal.local_id, gid) in have or (master and (cal.local_id, master) in have):
            continue
        seen.setdefault(item.calendar, []).append(Seen(gid, item.event, item.info))
    if not seen:
        return 0
    now = clock.now()
    rows = RowSet({}, all_correlation_ids(conn))
    for google_id, items in seen.items():
        rows.apply_listing(by_google[google_id], items, now)
    upsert_rows(conn, list(rows.changed.values()), now)
    return len(rows.changed)


def write_of(w: PlannedWrite, cal_ids: dict[str, int]) -> Write:
    return Write(
        op=Op(w.op),
        calendar_id=cal_ids[w.calendar],
        google_event_id=w.event_id,
        body=w.body,
        before=w.before,
        reason=w.reason,
        correlation_id=w.correlation_id,
        source_correlation_id=_source_of(w.body),
    )


def _source_of(body: Any) -> str | None:
    ext = body.get("extendedProperties") if isinstance(body, dict) else None
    private = ext.get("private") if isinstance(ext, dict) else None
    value = private.get("calsync_source") if isinstance(private, dict) else None
    return value if isinstance(value, str) else None


def plan_rows(session: Session, plan_id: str) -> list[Mutation]:
    return list(
        session.exec(
            select(Mutation).where(Mutation.plan_id == plan_id).order_by(col(Mutation.seq))
        )
    )


def counts(session: Session, plan_id: str) -> dict[str, int]:
    out = {s.value: 0 for s in MutationStatus}
    for m in plan_rows(session, plan_id):
        out[m.status] = out.get(m.status, 0) + 1
    out["total"] = sum(v for k, v in out.items() if k != "total")
    return out


OnDone = Callable[[Connection, Record], None]


def settle_pending(
    env: MigrationEnv, plan_id: str, origins: Sequence[str], *, batch_size: int
) -> int:
    """Read back the plan's `pending` rows of `origins` that may have reached Google (sent
    before a crash or kill) and record those that did as done, sending nothing: the step
    before a new plan supersedes the rest. Returns how many were settled."""
    with env.store.engine.connect() as conn:
        rows = [
            r
            for r in write_journal.load(conn, plan_id=plan_id, statuses=[MutationStatus.PENDING])
            if r.origin in origins
        ]
    report = executor.settle(env.store, rows, env.gateway_for, batch_size=batch_size, now=clock.now)
    return report.settled


def run_rows(
    env: MigrationEnv,
    plan_id: str,
    cals: Sequence[CalendarRef],
    *,
    batch_size: int,
    progress: ProgressCallback | None = None,
    scope: str | None = None,
    check_pause: bool = True,
    on_done: OnDone | None = None,
) -> Progress:
    """Execute the plan's unfinished rows (pending or failed) in batches, journaled.

    `on_done` runs for each row Google accepted, in the transaction that records it."""
    by_local = {c.local_id: c for c in cals}
    meter = MovingRate()
    with env.store.engine.connect() as conn:
        rows = [
            r
            for r in write_journal.load(
                conn, plan_id=plan_id, statuses=(MutationStatus.PENDING, MutationStatus.FAILED)
            )
            if scope is None
            or (r.calendar_id in by_local and by_local[r.calendar_id].google_id == scope)
        ]
    with env.store.session() as session:
        total_counts = counts(session, plan_id)
    total = total_counts["total"] - total_counts[MutationStatus.SKIPPED]
    undone = total_counts[MutationStatus.UNDONE]

    def answered(conn: Connection, answers: Sequence[Answer], _now: Any) -> list[Write]:
        if on_done is not None:
            for a in answers:
                if a.ok:
                    on_done(conn, a.record)
        return []

    hooks = Hooks(on_answers=answered)
    done = total_counts[MutationStatus.DONE] + undone  # before this run (settled rows too)

    def paused() -> bool:
        if not check_pause:
            return False
        with env.store.session() as session:
            return load_state(session).paused

    def after_batch(part: WriteReport) -> None:
        if progress:
            progress(_run_progress(done, total, part, meter))

    report = executor.send(
        env.store,
        sorted(rows, key=lambda r: r.seq),
        env.gateway_for,
        batch_size=batch_size,
        now=clock.now,
        hooks=hooks,
        stop=paused,
        on_batch=after_batch,
    )
    result = _run_progress(done, total, report, meter, paused=report.stopped)
    if report.paused:  # Google's usage limit: the rest waits in the journal
        result.paused = True
        result.note = "; ".join(
            pause_line(account, until, clock.now()) for account, until in report.paused.items()
        )
    if result.paused and progress:
        progress(result)
    return result


def _run_progress(
    done: int, total: int, part: WriteReport, meter: MovingRate, paused: bool = False
) -> Progress:
    """Progress after a batch: the moving rate of the writes answered in this run (rows
    settled by reading them back are done, not part of the rate)."""
    sent = part.done_total + part.failed_total
    rate = meter.update(sent)
    done += part.settled
    left = max(total - done - part.done_total - part.failed_total, 0)
    return Progress(done + part.done_total, total, part.failed_total, rate, meter.eta(left), paused)
