"""The journal's vocabulary and its one record shape, for every origin.

A `Write` is what an origin (sync, migration, cutover, rollback) asks for; once
journaled it is a `Record`: one `Mutation` row read back, typed. Every row has the same
columns with the same meaning, whoever wrote it:

| column | holds |
|---|---|
| `op` | what the write is for (`Op`: insert, patch, delete, stamp, retitle, restore) |
| `gateway_op` | the call sent (insert, patch, update, delete) |
| `before_json` | the event's full prior state (what rollback restores), or null |
| `after_json` | the body sent, exactly (null for a delete) |
| `result_json` | Google's answer: the event as the write left it |
| `adopted` | the write found Google already in that state (409 adopted, 404 on delete, a landed patch read back after a crash) |
| `source_correlation_id` | the source a block mirrors |
| `undoes_json` | rollback only: the ids of the rows this write undoes |

Migration data sits on top of the same row: `plan_id`, `seq` and `undoes_json`; pause is
`MigrationState.paused`, read between batches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from calsync_tui.google.types import GoogleEvent
from local_store.models import Mutation


class Op(StrEnum):
    """Kinds of Google write a plan may hold."""

    INSERT = "insert"  # create a busy block (client-supplied id)
    PATCH = "patch"  # bring a block back to its desired content
    DELETE = "delete"  # remove a block (orphan, duplicate, cascade)
    STAMP = "stamp"  # add calsync_* properties to an existing event
    RETITLE = "retitle"  # cutover: legacy title -> template title
    RESTORE = "restore"  # rollback: put an event back as it was


class MutationStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"
    SKIPPED = "skipped"
    REFUSED = "refused"  # Google refused it for good; remembered on the event, not a failure
    REPLACED = "replaced"  # an insert whose id was lost for good; the next generation follows


GATEWAY_OP: dict[str, str] = {
    Op.INSERT: "insert",
    Op.DELETE: "delete",
    Op.PATCH: "patch",
    Op.STAMP: "patch",
    Op.RETITLE: "patch",
    Op.RESTORE: "patch",  # a restore names its call (patch, update, insert, delete)
}
GATEWAY_OPS = frozenset({"insert", "patch", "update", "delete"})


@dataclass(frozen=True)
class Write:
    """One Google write to journal and send. The calendar is the local row id: its
    Google id and the account that writes it are read from the store when sending."""

    op: Op
    calendar_id: int
    google_event_id: str
    body: GoogleEvent | None = None
    before: GoogleEvent | None = None
    reason: str = ""
    correlation_id: str | None = None
    source_correlation_id: str | None = None
    gateway_op: str = ""  # "" = the op's usual call (GATEWAY_OP)
    undoes: tuple[int, ...] = ()

    @property
    def call(self) -> str:
        """The gateway call this write is sent as."""
        return self.gateway_op or GATEWAY_OP[self.op]

    def retargeted(self, event_id: str) -> Write:
        """The same insert under another event id (a later generation of the block)."""
        body = dict(self.body or {})
        if "id" in body:
            body["id"] = event_id
        return replace(self, google_event_id=event_id, body=body if self.body else self.body)


@dataclass
class Record:
    """One journal row, typed: the write plus what became of it."""

    id: int
    plan_id: str
    seq: int
    origin: str
    write: Write
    status: str = MutationStatus.PENDING
    attempts: int = 0
    error: str | None = None
    result: GoogleEvent | None = None
    adopted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def body(self) -> GoogleEvent | None:
        return self.write.body

    @property
    def before(self) -> GoogleEvent | None:
        return self.write.before

    @property
    def op(self) -> Op:
        return self.write.op

    @property
    def calendar_id(self) -> int:
        return self.write.calendar_id

    @property
    def google_event_id(self) -> str:
        return self.write.google_event_id

    @property
    def in_flight(self) -> bool:
        """Pending and sent at least once: Google may or may not have applied it."""
        return self.status == MutationStatus.PENDING and self.attempts > 0

    @classmethod
    def of(cls, row: Mutation | Mapping[str, Any]) -> Record:
        """Read one `Mutation` row (ORM object or a mapping of its columns)."""

        def get(key: str) -> Any:
            return row.get(key) if isinstance(row, Mapping) else getattr(row, key)

        write = Write(
            op=Op(get("op")),
            calendar_id=int(get("calendar_id")),
            google_event_id=str(get("google_event_id")),
            body=_loads_event(get("after_json")),
            before=_loads_event(get("before_json")),
            reason=str(get("reason") or ""),
            correlation_id=get("correlation_id"),
            source_correlation_id=get("source_correlation_id"),
            gateway_op=str(get("gateway_op") or ""),
            undoes=tuple(int(i) for i in (_loads(get("undoes_json")) or [])),
        )
        return cls(
            id=int(get("id")),
            plan_id=str(get("plan_id")),
            seq=int(get("seq") or 0),
            origin=str(get("origin")),
            write=write,
            status=str(get("status")),
            attempts=int(get("attempts") or 0),
            error=get("error"),
            result=_loads_event(get("result_json")),
            adopted=bool(get("adopted")),
            created_at=get("created_at"),
            updated_at=get("updated_at"),
        )


def record_of(row: Mutation | Mapping[str, Any]) -> Record:
    """The typed record of one journal row (the only reader of the JSON columns)."""
    return Record.of(row)


def row_values(
    write: Write, *, plan_id: str, seq: int, origin: str, now: datetime, attempts: int = 0
) -> dict[str, Any]:
    """The `Mutation` columns of a newly journaled write (status pending)."""
    return {
        "plan_id": plan_id,
        "seq": seq,
        "origin": origin,
        "op": str(write.op),
        "gateway_op": write.call,
        "calendar_id": write.calendar_id,
        "google_event_id": write.google_event_id,
        "correlation_id": write.correlation_id,
        "source_correlation_id": write.source_correlation_id,
        "reason": write.reason,
        "before_json": dumps(write.before),
        "after_json": dumps(write.body),
        "result_json": None,
        "adopted": False,
        "undoes_json": dumps(list(write.undoes)) if write.undoes else None,
        "status": str(MutationStatus.PENDING),
        "attempts": attempts,
        "error": None,
        "created_at": now,
        "updated_at": now,
    }


def dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _loads(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _loads_event(raw: str | None) -> GoogleEvent | None:
    value = _loads(raw)
    return value if isinstance(value, dict) else None
