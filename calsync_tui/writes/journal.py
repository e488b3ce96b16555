"""Write-ahead: journal rows committed `pending`, with the event's prior state, before
any call is sent; and the typed reading of journal rows back.

`journal` runs in the caller's connection, so an origin's own rows (the engine's
`creating` states, the migration's state) can be committed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from calsync_tui.writes.record import Record, Write, row_values
from local_store.models import Account, Calendar, Mutation

MUT = Mutation.__table__  # type: ignore[attr-defined]
_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ACC = Account.__table__  # type: ignore[attr-defined]

OnJournal = Callable[[Connection, Sequence[Record], datetime], None]


@dataclass(frozen=True)
class Target:
    """Where a calendar's writes go: its Google id and the account that writes it."""

    calendar_id: int
    google_id: str
    account: str


def targets(conn: Connection) -> dict[int, Target]:
    """Every calendar row's Google id and account (a calendar row has one account)."""
    rows = conn.execute(
        select(_CAL.c.id, _CAL.c.google_id, _ACC.c.email).join(_ACC, _ACC.c.id == _CAL.c.account_id)
    ).all()
    return {r[0]: Target(r[0], r[1], r[2]) for r in rows}


def journal(
    conn: Connection,
    writes: Sequence[Write],
    *,
    plan_id: str,
    origin: str,
    now: datetime,
    seq_start: int = 0,
    seqs: Sequence[int] | None = None,
    attempts: int = 0,
    on_journal: OnJournal | None = None,
) -> list[Record]:
    """Insert `pending` rows for `writes` (and let the origin add its own rows through
    `on_journal`) in the caller's transaction; return them as records.

    `attempts=1` journals writes about to be sent at once (a crash before the send then
    costs a read-back, never a second write)."""
    if not writes:
        return []
    numbers = list(seqs) if seqs is not None else [seq_start + i for i in range(len(writes))]
    rows = [
        row_values(w, plan_id=plan_id, seq=n, origin=origin, now=now, attempts=attempts)
        for w, n in zip(writes, numbers, strict=True)
    ]
    result = conn.execute(insert(MUT).returning(MUT.c.id, sort_by_parameter_order=True), rows)
    ids = [r[0] for r in result]
    records = [
        Record(i, plan_id, n, origin, w, attempts=attempts, created_at=now, updated_at=now)
        for i, n, w in zip(ids, numbers, writes, strict=True)
    ]
    if on_journal is not None:
        on_journal(conn, records, now)
    return records


def load(
    conn: Connection,
    *,
    plan_id: str | None = None,
    origin: str | None = None,
    statuses: Iterable[str] | None = None,
    ids: Iterable[int] | None = None,
    event_ids: Iterable[str] | None = None,
) -> list[Record]:
    """Journal rows as records, in journal order."""
    q = select(MUT).order_by(MUT.c.id)
    if plan_id is not None:
        q = q.where(MUT.c.plan_id == plan_id)
    if origin is not None:
        q = q.where(MUT.c.origin == origin)
    if statuses is not None:
        q = q.where(MUT.c.status.in_([str(s) for s in statuses]))
    if ids is not None:
        q = q.where(MUT.c.id.in_(list(ids)))
    if event_ids is not None:
        q = q.where(MUT.c.google_event_id.in_(sorted(set(event_ids))))
    return [Record.of(dict(r)) for r in conn.execute(q).mappings()]
