"""Send journaled writes in batches and record every answer: the one write-ahead executor.

`journal_and_send` journals a batch (`pending`, prior state included, attempts 1) and
sends it, batch by batch per account (sync cycles, disable-with-removal). `send` sends
rows journaled earlier (a migration plan is journaled whole before its first batch; crash
recovery resends what was left). Either way each batch's answers are recorded in one
transaction: status, Google's result, whether it was adopted, the error. An origin adds
its own consequences through `Hooks`, in the same transactions: the engine its EventState
rows, rollback the rows it undid. A hook may return follow-up writes (the engine patches
an adopted block that differs); they are journaled and sent in the same run.

Three answers are handled here for every origin:
- a lost id (`lost_ids`): the insert is journaled again under the next generation of
  the id, before it is sent, and sent in the same run;
- a refusal for good (`refusals`): recorded `refused` against the event, not counted as
  a failure; later writes to that event version are held (not journaled, not sent);
- Google's usage limit (`lockout`): the account's writes stop at once, unsent rows stay
  `pending` (their attempt not counted), the account pauses; while paused nothing is
  sent for it, after the pause one probe write goes first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, update

from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway, WriteCall, WriteResult
from calsync_tui.writes import lockout, lost_ids, refusals
from calsync_tui.writes.journal import MUT, OnJournal, Target, journal, targets
from calsync_tui.writes.readback import EventRef, landed, read_events
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
    def refused(self) -> bool:
        return refusals.is_refusal(self.record.write.call, self.result)

    @property
    def lost(self) -> bool:
        return lost_ids.is_lost(self.record, self.result.reason)

    @property
    def status(self) -> str:
        if self.ok:
            return MutationStatus.DONE
        if self.lost:
            return MutationStatus.REPLACED
        return MutationStatus.REFUSED if self.refused else MutationStatus.FAILED

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


@dataclass
class _Run:
    """One account's writes in one run: its gateway, lockout state and the report."""

    store: Any
    gateway: Gateway
    account: str
    where: dict[int, Target]
    batch_size: int
    now: Callable[[], datetime]
    hooks: Hooks
    report: WriteReport
    held: set[tuple[int, str]] = field(default_factory=set)
    refused_on_record: set[tuple[int, str]] = field(default_factory=set)
    probing: bool = False

    def admit(self) -> int | None:
        """How many writes the next batch may hold: None while the account is paused
        (Google's usage limit), 1 for the probe after a pause, else the batch size."""
        with self.store.engine.connect() as conn:
            lock = lockout.lockout_of(conn, self.account)
        if lock is None:
            self.probing = False
            return self.batch_size
        now = self.now()
        if lock.active(now):
            if self.account not in self.report.paused:
                self.report.paused[self.account] = lock.until
                self.report.errors.append(lockout.pause_line(self.account, lock.until, now))
            return None
        self.probing = True
        return 1

    def hold(self, writes: Sequence[Write]) -> list[Write]:
        """Writes not held by a standing refusal (inserts are never held)."""
        out = [
            w
            for w in writes
            if w.op == Op.INSERT or (w.calendar_id, w.google_event_id) not in self.held
        ]
        self.report.held += len(writes) - len(out)
        return out

    def settle(self, records: Sequence[Record], *, resend: bool = True) -> list[Record]:
        """Read back the rows sent before (attempts > 0: a crash may have come between
        Google's answer and its record); record those already on Google done (adopted)
        without a write, counted in `settled`. Returns the rows not settled, in order.

        With `resend` (the rest is sent next) only patches and updates are read: a
        re-sent insert answers 409 and is adopted, a re-sent delete 404/410 and is done.
        Without it (the rest will not be sent: a new plan supersedes them) every write."""
        calls = ("patch", "update") if resend else ("patch", "update", "insert", "delete")
        suspects = [r for r in records if r.attempts > 0 and r.write.call in calls]
        if not suspects:
            return list(records)
        refs = [
            EventRef(str(r.id), self.where[r.calendar_id].google_id, r.google_event_id)
            for r in suspects
        ]
        got = read_events(self.gateway, refs, batch_size=self.batch_size)
        answers = []
        for r in suspects:
            res = got.get(str(r.id))
            if res is not None and res.ok and landed(r, res.event):
                on_google = WriteResult(str(r.id), True, 200, event=res.event, already=True)
                answers.append(Answer(r, on_google, self.where[r.calendar_id]))
        if not answers:
            return list(records)
        with self.store.engine.begin() as conn:
            record_answers(conn, answers, self.now(), self.hooks)
        self.report.settled += len(answers)
        done = {a.record.id for a in answers}
        return [r for r in records if r.id not in done]

    def send(self, records: Sequence[Record]) -> tuple[list[Write], list[Record]]:
        """Send one batch and record every answer in one transaction. Returns the
        origin's follow-up writes and the journaled replacements of lost ids."""
        calls = [
            WriteCall(
                str(r.id),
                r.write.call,
                self.where[r.calendar_id].google_id,
                r.google_event_id,
                r.body,
            )
            for r in records
        ]
        try:
            results = self.gateway.execute(calls, batch_size=self.batch_size, stop_on_quota=True)
        except CalsyncError as exc:
            results = [
                WriteResult(c.key, False, 0, reason="error", message=str(exc)) for c in calls
            ]
        by_key = {res.key: res for res in results}
        answers = [
            Answer(
                r,
                by_key.get(str(r.id)) or WriteResult(str(r.id), False, 0, message="no result"),
                self.where[r.calendar_id],
            )
            for r in records
        ]
        unsent = [a for a in answers if a.result.reason in lockout.QUOTA_REASONS | {"notSent"}]
        lost = [a for a in answers if a.lost]
        lost_ids_ = {a.record.id for a in lost}
        unsent_ids = {a.record.id for a in unsent}
        now = self.now()
        replacements: list[Record] = []
        with self.store.engine.begin() as conn:
            settled = [a for a in answers if a.record.id not in unsent_ids]
            followups = record_answers(conn, settled, now, self.hooks)
            for a in lost:
                replacements.extend(self._replace(conn, a, now))
            refused = [a for a in settled if a.refused]
            refusals.remember(
                conn,
                [(a.record.calendar_id, a.record.google_event_id, a.result) for a in refused],
                now,
            )
            self.held |= {(a.record.calendar_id, a.record.google_event_id) for a in refused}
            accepted = [
                (a.record.calendar_id, a.record.google_event_id)
                for a in settled
                if a.ok
                and (a.record.calendar_id, a.record.google_event_id) in self.refused_on_record
            ]
            refusals.forget(conn, accepted)
            if unsent:
                lock = lockout.trip(conn, self.account, now)
                line = lockout.pause_line(self.account, lock.until, now)
                _back_to_pending(conn, [a.record for a in unsent], line, now)
                self.report.paused[self.account] = lock.until
                self.report.errors.append(line)
            elif self.probing or settled:
                with_lock = lockout.lockout_of(conn, self.account)
                if with_lock is not None:
                    lockout.clear(conn, self.account, now)  # Google took a write again
                self.probing = False
        for a in settled:
            if a.record.id not in lost_ids_:
                account_for(self.report, a)
        return followups, replacements

    def _replace(self, conn: Connection, a: Answer, now: datetime) -> list[Record]:
        """Journal the lost insert again under its next generation (before sending it)."""
        got = lost_ids.replacement(a.record, a.target.google_id)
        if got is None:
            account_for(self.report, a)  # give up: the failure stands
            return []
        write, generation = got
        lost_ids.move_block(conn, a.record, write.google_event_id, generation)
        records = journal(
            conn,
            [write],
            plan_id=a.record.plan_id,
            origin=a.record.origin,
            now=now,
            seq_start=a.record.seq,
            on_journal=self.hooks.on_journal,
        )
        lost_ids.stamp_generation(conn, write.calendar_id, write.google_event_id, generation)
        return records


def _back_to_pending(conn: Connection, records: Sequence[Record], line: str, now: datetime) -> None:
    """Rows Google refused with the usage limit (or never got): still to do. Their
    attempt is not counted, so a lockout never turns into a give-up."""
    conn.execute(
        update(MUT)
        .where(MUT.c.id.in_([r.id for r in records]))
        .values(
            status=str(MutationStatus.PENDING),
            attempts=MUT.c.attempts - 1,
            error=line,
            updated_at=now,
        )
    )
    for r in records:
        r.attempts -= 1


_W = TypeVar("_W", Write, Record)


def by_account(items: Sequence[_W], where: dict[int, Target]) -> dict[str, list[_W]]:
    """Writes (or journaled rows) grouped by the account of their calendar, in order of
    first appearance; a calendar no longer known groups under ""."""
    groups: dict[str, list[_W]] = {}
    for item in items:
        t = where.get(item.calendar_id)
        groups.setdefault(t.account if t else "", []).append(item)
    return groups


def _runs_setup(store: Any) -> tuple[dict[int, Target], set[tuple[int, str]], set[tuple[int, str]]]:
    with store.engine.connect() as conn:
        return targets(conn), refusals.standing(conn), refusals.recorded(conn)


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

    `cancel` is checked between batches: the rest is neither journaled nor sent. Writes
    of a paused account are not journaled (the next plan has them again)."""
    report = WriteReport()
    if not writes:
        return report
    where, held, on_record = _runs_setup(store)
    groups = by_account(writes, where)
    total = len(writes)
    done = 0
    seq = 0
    for account, items in groups.items():
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is None:
            report.skipped += len(items)
            continue
        run = _Run(store, gateway, account, where, batch_size, now, hooks, report, held, on_record)
        queue: list[Write | Record] = list(items)
        while queue:
            size = run.admit()
            if size is None:
                report.skipped += len(queue)
                break
            chunk, queue = queue[:size], queue[size:]
            if cancel is not None and cancel():
                report.skipped += len(chunk) + len(queue)
                report.stopped = True
                report.total = total
                return report
            fresh = run.hold([w for w in chunk if isinstance(w, Write)])
            records = [r for r in chunk if isinstance(r, Record)]
            if fresh:
                with store.engine.begin() as conn:
                    records += journal(
                        conn,
                        lost_ids.current_generation(conn, fresh),
                        plan_id=plan_id,
                        origin=origin,
                        now=now(),
                        seq_start=seq,
                        attempts=1,
                        on_journal=hooks.on_journal,
                    )
                seq += len(fresh)
            if not records:
                continue
            count_attempt(store, [r for r in records if r.attempts == 0], now())
            followups, replacements = run.send(records)
            done += len(chunk)
            queue = [*replacements, *followups, *queue]
            total += len(followups) + len(replacements)
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
    in the order given). Rows sent before (a crash) are read back first and those already
    on Google recorded done without a write (`_Run.settle`, counted in `settled`). Each
    row's `attempts` is counted and committed before its batch goes out, so after a crash
    the rows that may have reached Google are known. `stop` is checked before each
    batch. A paused account's rows stay `pending`."""
    report = WriteReport(total=len(records))
    if not records:
        return report
    where, held, on_record = _runs_setup(store)
    groups = by_account(records, where)
    for account in sorted(groups):
        items = groups[account]
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is None:
            report.skipped += len(items)
            continue
        run = _Run(store, gateway, account, where, batch_size, now, hooks, report, held, on_record)
        queue: list[Record] = run.settle(items)
        report.total -= len(items) - len(queue)
        while queue:
            size = run.admit()
            if size is None:
                report.skipped += len(queue)
                break
            chunk, queue = queue[:size], queue[size:]
            if stop is not None and stop():
                report.stopped = True
                return report
            count_attempt(store, chunk, now())
            followups, replacements = run.send(chunk)
            if followups:
                with store.engine.begin() as conn:
                    replacements += journal(
                        conn,
                        followups,
                        plan_id=chunk[0].plan_id,
                        origin=chunk[0].origin,
                        now=now(),
                        on_journal=hooks.on_journal,
                    )
            queue = [*replacements, *queue]
            report.total += len(replacements)
            if on_batch is not None:
                on_batch(report)
    return report


def settle(
    store: Any,
    records: Sequence[Record],
    gateway_for: GatewayFor,
    *,
    batch_size: int,
    now: Callable[[], datetime],
    hooks: Hooks = NO_HOOKS,
) -> WriteReport:
    """Read back every row among `records` sent before and record those already on
    Google done, sending nothing (`_Run.settle` without resend): the step before a new
    plan supersedes the rest. `settled` counts them."""
    report = WriteReport()
    where, held, on_record = _runs_setup(store)
    for account, items in by_account(records, where).items():
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is not None:
            run = _Run(
                store, gateway, account, where, batch_size, now, hooks, report, held, on_record
            )
            run.settle(items, resend=False)
    return report


def count_attempt(store: Any, records: Sequence[Record], now: datetime) -> None:
    """Count one more attempt of each row, committed before the batch is sent: a write
    that kills the process every time still reaches its limit instead of looping."""
    if not records:
        return
    with store.engine.begin() as conn:
        conn.execute(
            update(MUT)
            .where(MUT.c.id.in_([r.id for r in records]))
            .values(attempts=MUT.c.attempts + 1, updated_at=now)
        )
    for r in records:
        r.attempts += 1


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
                "v_status": str(a.status),
                "v_error": a.error,
                "v_result": dumps(a.result.event) if a.ok else None,
                "v_adopted": bool(a.ok and a.result.already),
                "v_now": now,
            }
            for a in answers
        ],
    )
    for a in answers:
        a.record.status = a.status
        a.record.error = a.error
        a.record.result = a.result.event if a.ok else None
        a.record.adopted = bool(a.ok and a.result.already)
    if hooks.on_answers is None:
        return []
    return list(hooks.on_answers(conn, answers, now))


def account_for(report: WriteReport, a: Answer) -> None:
    """Add one answer to the report's counts (a refusal is not a failure)."""
    op = str(a.record.op)
    cal = a.target.google_id
    report.writes_by_calendar[cal] += 1
    if a.ok:
        report.done[op] += 1
        source = a.record.write.source_correlation_id
        if a.record.op in (Op.INSERT, Op.PATCH) and source:
            report.touched_sources.add(source)
    elif a.refused:
        report.refused[op] += 1
    else:
        report.failed[op] += 1
        report.failed_by_calendar[cal] += 1
        report.errors.append(f"{op} {cal}/{a.record.google_event_id}: {a.error}")
