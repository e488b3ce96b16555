"""Settle what a crash left in the journal: rows `pending` (or, for the migration, failed).

A row whose attempt was counted may or may not have reached Google. Inserts and deletes
are simply sent again: a re-sent insert answers 409 and is adopted (block ids are
deterministic), a delete of a gone event answers 404/410 and is done. A patch or update
in flight is read back first (batched gets: `executor.send` settles every row journaled
earlier before sending the rest, judged by `readback.landed`) and recorded done without
a second write when its content is already on the event. A row that has been tried `max_attempts`
times becomes `failed` with its reason and an Alert: nothing stays pending forever.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from calsync_tui.google.types import WriteResult
from calsync_tui.writes.executor import (
    NO_HOOKS,
    Answer,
    GatewayFor,
    Hooks,
    record_answers,
    send,
)
from calsync_tui.writes.journal import load, targets
from calsync_tui.writes.record import MutationStatus, Record
from calsync_tui.writes.report import WriteReport
from local_store.models import Alert

MAX_ATTEMPTS = 3
_ALERT = Alert.__table__  # type: ignore[attr-defined]


@dataclass
class RecoveryReport:
    resent: int = 0
    settled: int = 0  # in flight, read back, already applied: recorded without a write
    gave_up: int = 0
    alerts: list[str] = field(default_factory=list)
    writes: WriteReport = field(default_factory=WriteReport)


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
    report.writes = send(store, rest, gateway_for, batch_size=batch_size, now=now, hooks=hooks)
    report.settled = report.writes.settled
    report.resent = len(rest) - report.settled - report.writes.skipped
    report.alerts = give_up(store, hopeless, now(), hooks)
    report.gave_up = len(hopeless)
    return report
