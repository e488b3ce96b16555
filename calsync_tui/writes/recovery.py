"""Settle what a crash left in the journal: rows `pending` (or, for the migration, failed).

A row whose attempt was counted may or may not have reached Google. Inserts and deletes
are simply sent again: a re-sent insert answers 409 and is adopted (block ids are
deterministic), a delete of a gone event answers 404/410 and is done. A patch or update
in flight is read back first (batched gets) and recorded done without a second write
when its content is already on the event. A row that has been tried `max_attempts`
times becomes `failed` with its reason and an Alert: nothing stays pending forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from calsync_tui.google.types import GoogleEvent, WriteResult
from calsync_tui.writes.executor import (
    NO_HOOKS,
    Answer,
    GatewayFor,
    Hooks,
    by_account,
    gateway_of,
    record_answers,
    send,
)
from calsync_tui.writes.journal import load, targets
from calsync_tui.writes.readback import EventRef, read_events
from calsync_tui.writes.record import MutationStatus, Record
from calsync_tui.writes.report import WriteReport
from local_store.models import Alert

MAX_ATTEMPTS = 3
_ALERT = Alert.__table__  # type: ignore[attr-defined]
# Fields Google rewrites on every write: never part of "is this patch on the event".
_VOLATILE = frozenset({"etag", "updated", "sequence", "htmlLink", "created", "kind"})


@dataclass
class RecoveryReport:
    resent: int = 0
    settled: int = 0  # in flight, read back, already applied: recorded without a write
    gave_up: int = 0
    alerts: list[str] = field(default_factory=list)
    writes: WriteReport = field(default_factory=WriteReport)


def _private(event: GoogleEvent) -> dict[str, Any]:
    ext = event.get("extendedProperties")
    private = ext.get("private") if isinstance(ext, dict) else None
    return (
        {str(k): v for k, v in private.items() if v is not None}
        if isinstance(private, dict)
        else {}
    )


def applied(body: GoogleEvent, event: GoogleEvent | None) -> bool:
    """Whether the patch `body` is already reflected in `event` (null keys = absent)."""
    if event is None or event.get("status") == "cancelled":
        return False
    for key, want in body.items():
        if key == "extendedProperties" and isinstance(want, dict):
            have = _private(event)
            if want.get("private") is None and "private" in want:
                if have:
                    return False
                continue
            for k, v in (want.get("private") or {}).items():
                if (v is None and k in have) or (v is not None and str(have.get(k)) != str(v)):
                    return False
        elif want is None:
            if event.get(key) not in (None, {}, []):
                return False
        elif key not in _VOLATILE and event.get(key) != want:
            return False
    return True


def landed(record: Record, event: GoogleEvent | None) -> bool:
    """Whether the write `record` is already on Google, judged from the event read back
    (None: gone): an insert's event exists, a delete's is gone, a patch or update's
    content is on the event."""
    if record.write.call == "insert":
        return event is not None and event.get("status") != "cancelled"
    if record.write.call == "delete":
        return event is None or event.get("status") == "cancelled"
    return applied(record.body or {}, event)


def settle_in_flight(
    store: Any,
    records: Sequence[Record],
    gateway_for: GatewayFor,
    *,
    batch_size: int,
    now: Callable[[], datetime],
    hooks: Hooks = NO_HOOKS,
    resend: bool = True,
) -> list[Record]:
    """Read back the writes among `records` that were sent before (attempts > 0); record
    those already on Google as done (adopted). Returns the records not settled.

    With `resend` (the rest is sent next) only patches and updates are read: a re-sent
    insert answers 409 and is adopted, a re-sent delete 404/410 and is done. Without it
    (the rest will not be sent: a new plan supersedes them) every write is read back."""
    calls = ("patch", "update") if resend else ("patch", "update", "insert", "delete")
    suspects = [r for r in records if r.attempts > 0 and r.write.call in calls]
    if not suspects:
        return list(records)
    with store.engine.connect() as conn:
        where = targets(conn)
    answers: list[Answer] = []
    for account, items in by_account(suspects, where).items():
        gateway = gateway_of(gateway_for, account) if account else None
        if gateway is None:
            continue
        refs = [
            EventRef(str(r.id), where[r.calendar_id].google_id, r.google_event_id) for r in items
        ]
        got = read_events(gateway, refs, batch_size=batch_size)
        for r in items:
            res = got.get(str(r.id))
            if res is not None and res.ok and landed(r, res.event):
                on_google = WriteResult(str(r.id), True, 200, event=res.event, already=True)
                answers.append(Answer(r, on_google, where[r.calendar_id]))
    if answers:
        with store.engine.begin() as conn:
            record_answers(conn, answers, now(), hooks)
    settled = {a.record.id for a in answers}
    return [r for r in records if r.id not in settled]


def settle_and_send(
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
    """Journaled rows, some perhaps sent before a crash: those already on Google are
    recorded done without a write (`settle_in_flight`, counted in `settled`), the rest
    are sent (`executor.send`; `stop` and `on_batch` as there). The one step for crash
    leftovers (`recover`) and a resumed migration plan (`migration.journal.run_rows`)."""
    left = settle_in_flight(
        store, records, gateway_for, batch_size=batch_size, now=now, hooks=hooks
    )
    settled = len(records) - len(left)

    def batch(part: WriteReport) -> None:
        part.settled = settled
        if on_batch is not None:
            on_batch(part)

    report = send(
        store,
        left,
        gateway_for,
        batch_size=batch_size,
        now=now,
        hooks=hooks,
        stop=stop,
        on_batch=batch,
    )
    report.settled = settled
    return report


def give_up(
    store: Any, records: Sequence[Record], now: datetime, hooks: Hooks = NO_HOOKS
) -> list[str]:
    """Rows tried too often: `failed` with the reason, an Alert each; returns the alerts."""
    if not records:
        return []
    messages = []
    with store.engine.begin() as conn:
        where = targets(conn)
        answers = []
        for r in records:
            reason = f"gave up after {r.attempts} attempts: {r.error or 'no answer'}"
            t = where[r.calendar_id]
            answers.append(Answer(r, WriteResult(str(r.id), False, 0, message=reason), t))
            message = f"{r.op} of {t.google_id}/{r.google_event_id} {reason}"
            conn.execute(
                insert(_ALERT).values(
                    created_at=now,
                    level="error",
                    kind="stuck_mutation",
                    message=message,
                    calendar_id=r.calendar_id,
                    acknowledged=False,
                )
            )
            messages.append(message)
        record_answers(conn, answers, now, hooks)
    return messages


def recover(
    store: Any,
    gateway_for: GatewayFor,
    *,
    origin: str,
    batch_size: int,
    now: Callable[[], datetime],
    max_attempts: int | None = MAX_ATTEMPTS,
    hooks: Hooks = NO_HOOKS,
) -> RecoveryReport:
    """Finish or fail every `pending` row of `origin`."""
    report = RecoveryReport()
    with store.engine.connect() as conn:
        pending = load(conn, origin=origin, statuses=[MutationStatus.PENDING])
    if not pending:
        return report
    hopeless = [r for r in pending if max_attempts is not None and r.attempts >= max_attempts]
    rest = [r for r in pending if r not in hopeless]
    report.writes = settle_and_send(
        store, rest, gateway_for, batch_size=batch_size, now=now, hooks=hooks
    )
    report.settled = report.writes.settled
    report.resent = len(rest) - report.settled - report.writes.skipped
    report.alerts = give_up(store, hopeless, now(), hooks)
    report.gave_up = len(hopeless)
    return report
