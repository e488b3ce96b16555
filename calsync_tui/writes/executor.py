"""Send journaled writes in batches and record every answer: the one write-ahead executor.

`journal_and_send` journals a batch (`pending`, prior state included, attempts 1) and sends it,
batch by batch per account (sync cycles, disable-with-removal). `send` sends rows
journaled earlier (a migration plan is journaled whole before its first batch; crash
recovery resends what was left). Either way each batch's answers are recorded in one
transaction: status, Google's result, whether it was adopted, the error. An origin adds
its own consequences through `Hooks`, in the same transactions: the engine its EventState
rows, rollback the rows it undid. A hook may return follow-up writes (the engine patches
an adopted block that differs); they are journaled and sent in the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update

from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway, WriteCall, WriteResult
from calsync_tui.writes.journal import MUT, OnJournal, Target, journal, targets
from calsync_tui.writes.record import MutationStatus, Op, Record, Write, dumps
from calsync_tui.writes.report import WriteReport

GatewayFor = Callable[[str], Gateway | None]


@dataclass(frozen=True)
class Answer:
    """Google's answer to one journaled write, with where it went."""

    record: Record
    result: WriteResult
    target: Target

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def error(self) -> str | None:
        return None if self.result.ok else describe(self.result)


OnAnswers = Callable[[Connection, Sequence[Answer], datetime], Sequence[Write]]


@dataclass(frozen=True)
class Hooks:
    """An origin's own rows, written in the write path's transactions."""

    on_journal: OnJournal | None = None
    on_answers: OnAnswers | None = None


NO_HOOKS = Hooks()


def describe(res: WriteResult | None) -> str:
    if res is None:
        return "no result"
    parts = [str(res.status) if res.status else "", res.reason or "", res.message or ""]
    return " ".join(p for p in parts if p)[:500]


def gateway_of(gateway_for: GatewayFor, account: str) -> Gateway | None:
    """The account's gateway, or None when it cannot be used (needs sign-in)."""
    try:
        return gateway_for(account)
    except CalsyncError:
        return None


def journal_and_send(
    store: Any,
    writes: Sequence[Write],
    gateway_for: GatewayFor,
    *,
    plan_id: str,
    origin: str,
    batch_size: int,
    now: Callable[[], datetime],
    hooks: Hooks = NO_HOOKS,
    cancel: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> WriteReport:
    """Journal and send `writes` batch by batch, per account (in order of first write).

    `cancel` is checked between batches: the rest is neither journaled nor sent."""
    report = WriteReport()
    with store.engine.connect() as conn:
        where = targets(conn)
    by_account: dict[str, list[Write]] = {}
    for w in writes:
        t = where.get(w.calendar_id)
        by_account.setdefault(t.account if t else "", []).append(w)
    total = len(writes)
    done = 0
    seq = 0
    for account, items in by_account.items():
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is None:
            report.skipped += len(items)
            continue
        queue = list(items)
        while queue:
            chunk, queue = queue[:batch_size], queue[batch_size:]
            if cancel is not None and cancel():
                report.skipped += len(chunk) + len(queue)
                report.stopped = True
                report.total = total
                return report
            with store.engine.begin() as conn:
                records = journal(
                    conn,
                    chunk,
                    plan_id=plan_id,
                    origin=origin,
                    now=now(),
                    seq_start=seq,
                    attempts=1,
                    on_journal=hooks.on_journal,
                )
            seq += len(chunk)
            followups = send_batch(
                store,
                gateway,
                records,
                where,
                batch_size=batch_size,
                now=now,
                hooks=hooks,
                report=report,
            )
            done += len(chunk)
            if followups:
                queue.extend(followups)
                total += len(followups)
            if on_progress is not None:
                on_progress(done, total)
    report.total = total
    return report


def send(
    store: Any,
    records: Sequence[Record],
    gateway_for: GatewayFor,
    *,
    batch_size: int,
    now: Callable[[], datetime],
    hooks: Hooks = NO_HOOKS,
    stop: Callable[[], bool] | None = None,
    on_batch: Callable[[WriteReport], None] | None = None,
) -> WriteReport:
    """Send rows journaled earlier, one account at a time (accounts in email order, rows
    in the order given). Each row's `attempts` is counted and committed before its batch
    goes out, so after a crash the rows that may have reached Google are known.
    `stop` is checked before each batch."""
    report = WriteReport(total=len(records))
    if not records:
        return report
    with store.engine.connect() as conn:
        where = targets(conn)
    by_account: dict[str, list[Record]] = {}
    for r in records:
        t = where.get(r.calendar_id)
        by_account.setdefault(t.account if t else "", []).append(r)
    for account in sorted(by_account):
        items = by_account[account]
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is None:
            report.skipped += len(items)
            continue
        queue: list[Record] = list(items)
        while queue:
            chunk, queue = queue[:batch_size], queue[batch_size:]
            if stop is not None and stop():
                report.stopped = True
                return report
            count_attempt(store, chunk, now())
            followups = send_batch(
                store,
                gateway,
                chunk,
                where,
                batch_size=batch_size,
                now=now,
                hooks=hooks,
                report=report,
            )
            if followups:
                with store.engine.begin() as conn:
                    queue.extend(
                        journal(
                            conn,
                            followups,
                            plan_id=chunk[0].plan_id,
                            origin=chunk[0].origin,
                            now=now(),
                            on_journal=hooks.on_journal,
                        )
                    )
                report.total += len(followups)
            if on_batch is not None:
                on_batch(report)
    return report


def count_attempt(store: Any, records: Sequence[Record], now: datetime) -> None:
    """Count one more attempt of each row, committed before the batch is sent: a write
    that kills the process every time still reaches its limit instead of looping."""
    with store.engine.begin() as conn:
        conn.execute(
            update(MUT)
            .where(MUT.c.id.in_([r.id for r in records]))
            .values(attempts=MUT.c.attempts + 1, updated_at=now)
        )
    for r in records:
        r.attempts += 1


def send_batch(
    store: Any,
    gateway: Gateway,
    records: Sequence[Record],
    where: dict[int, Target],
    *,
    batch_size: int,
    now: Callable[[], datetime],
    hooks: Hooks,
    report: WriteReport,
) -> list[Write]:
    """One account's batch: send, then record every answer (and the origin's rows) in one
    transaction. Returns the origin's follow-up writes."""
    calls = [
        WriteCall(
            str(r.id), r.write.call, where[r.calendar_id].google_id, r.google_event_id, r.body
        )
        for r in records
    ]
    try:
        results = gateway.execute(calls, batch_size=batch_size)
    except CalsyncError as exc:
        results = [WriteResult(c.key, False, 0, reason="error", message=str(exc)) for c in calls]
    by_key = {res.key: res for res in results}
    answers = [
        Answer(
            r,
            by_key.get(str(r.id)) or WriteResult(str(r.id), False, 0, message="no result"),
            where[r.calendar_id],
        )
        for r in records
    ]
    with store.engine.begin() as conn:
        followups = record_answers(conn, answers, now(), hooks)
    for a in answers:
        account_for(report, a)
    return followups


def record_answers(
    conn: Connection, answers: Sequence[Answer], now: datetime, hooks: Hooks = NO_HOOKS
) -> list[Write]:
    """Store each answer on its row (status, result, adopted, error), then the origin's
    rows; in the caller's transaction."""
    if not answers:
        return []
    conn.execute(
        update(MUT)
        .where(MUT.c.id == bindparam("k_id"))
        .values(
            status=bindparam("v_status"),
            error=bindparam("v_error"),
            result_json=bindparam("v_result"),
            adopted=bindparam("v_adopted"),
            updated_at=bindparam("v_now"),
        ),
        [
            {
                "k_id": a.record.id,
                "v_status": str(MutationStatus.DONE if a.ok else MutationStatus.FAILED),
                "v_error": a.error,
                "v_result": dumps(a.result.event) if a.ok else None,
                "v_adopted": bool(a.ok and a.result.already),
                "v_now": now,
            }
            for a in answers
        ],
    )
    for a in answers:
        a.record.status = MutationStatus.DONE if a.ok else MutationStatus.FAILED
        a.record.error = a.error
        a.record.result = a.result.event if a.ok else None
        a.record.adopted = bool(a.ok and a.result.already)
    if hooks.on_answers is None:
        return []
    return list(hooks.on_answers(conn, answers, now))


def account_for(report: WriteReport, a: Answer) -> None:
    """Add one answer to the report's counts."""
    op = str(a.record.op)
    cal = a.target.google_id
    report.writes_by_calendar[cal] += 1
    if a.ok:
        report.done[op] += 1
        source = a.record.write.source_correlation_id
        if a.record.op in (Op.INSERT, Op.PATCH) and source:
            report.touched_sources.add(source)
    else:
        report.failed[op] += 1
        report.failed_by_calendar[cal] += 1
        report.errors.append(f"{op} {cal}/{a.record.google_event_id}: {a.error}")
