"""Write-ahead journaled execution of a migration plan through the gateway.

Every write is a `Mutation` row (`pending`, with the event's full prior state) before
any call is sent; a row's `attempts` is bumped and committed right before its batch goes
out, so after a crash the rows that may have reached Google are known. Those are checked
before anything is resent: inserts and deletes are idempotent (deterministic ids, 409
adopted, 404/410 on delete), and a patch whose content is already on the event is
marked done without a second write. Pause is a flag in `MigrationState`, read between
batches, so another process (`migrate pause`) or the TUI can stop a run cleanly.

The engine's executor serves sync cycles; this one adds what the migration needs on top
of the same gateway: origin tags, prior state per row, pause, progress and undo data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from calsync_tui import clock
from calsync_tui.engine.model import MutationStatus, Op
from calsync_tui.google.types import GoogleEvent, WriteCall, WriteResult
from calsync_tui.migration.env import CalendarRef, MigrationEnv
from calsync_tui.migration.events import content, private_props
from calsync_tui.migration.phases import load_state
from calsync_tui.migration.planner import PlannedWrite
from local_store.models import Mutation

GATEWAY_OP = {
    Op.INSERT: "insert",
    Op.DELETE: "delete",
    Op.STAMP: "patch",
    Op.PATCH: "patch",
    Op.RETITLE: "patch",
}


@dataclass
class Progress:
    """Where a run stands; `rate` in writes/s, `eta_seconds` None until a rate is known."""

    done: int
    total: int
    failed: int
    rate: float
    eta_seconds: float | None
    paused: bool = False

    def line(self) -> str:
        eta = "?" if self.eta_seconds is None else f"{self.eta_seconds:.0f}s"
        return (
            f"{self.done}/{self.total} done, {self.failed} failed, "
            f"{self.rate:.1f} writes/s, ETA {eta}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "done": self.done,
            "total": self.total,
            "failed": self.failed,
            "rate": self.rate,
            "eta_seconds": self.eta_seconds,
            "paused": self.paused,
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
    for w in writes:
        session.add(
            Mutation(
                plan_id=plan_id,
                seq=w.seq,
                origin=origin,
                op=w.op,
                calendar_id=cal_ids[w.calendar],
                google_event_id=w.event_id,
                correlation_id=w.correlation_id,
                reason=w.reason,
                before_json=None if w.before is None else json.dumps(w.before, ensure_ascii=False),
                after_json=json.dumps({"body": w.body}, ensure_ascii=False),
            )
        )
    session.commit()


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


def body_of(m: Mutation) -> GoogleEvent | None:
    """The body sent: `{"body": ...}` in migration rows, the raw body in engine rows."""
    data = json.loads(m.after_json or "{}")
    if not isinstance(data, dict):
        return None
    if m.origin == "sync":
        return data
    body = data.get("body")
    return body if isinstance(body, dict) else None


def result_of(m: Mutation) -> GoogleEvent | None:
    """Google's answer to a migration write (what it left on the event)."""
    data = json.loads(m.after_json or "{}")
    if m.origin == "sync" or not isinstance(data, dict):
        return None
    got = data.get("result")
    return got if isinstance(got, dict) else None


def gateway_op(m: Mutation) -> str:
    if m.op == Op.RESTORE:
        data = json.loads(m.after_json or "{}")
        return str(data.get("gateway_op", "patch"))
    return GATEWAY_OP[Op(m.op)]


def applied(body: GoogleEvent, event: GoogleEvent | None) -> bool:
    """Whether the patch `body` is already reflected in `event` (null keys = absent)."""
    if event is None or event.get("status") == "cancelled":
        return False
    for key, want in body.items():
        if key == "extendedProperties" and isinstance(want, dict):
            if want.get("private") is None and "private" in want:
                if private_props(event):
                    return False
                continue
            have = private_props(event)
            for k, v in (want.get("private") or {}).items():
                if (v is None and k in have) or (v is not None and have.get(k) != v):
                    return False
        elif want is None:
            if event.get(key) not in (None, {}, []):
                return False
        elif content({key: event.get(key)}) != content({key: want}):
            return False
    return True


def run_rows(
    env: MigrationEnv,
    plan_id: str,
    cals: Sequence[CalendarRef],
    *,
    batch_size: int,
    progress: ProgressCallback | None = None,
    scope: str | None = None,
    check_pause: bool = True,
    on_done: Callable[[Session, Mutation], None] | None = None,
) -> Progress:
    """Execute the plan's unfinished rows (pending or failed) in batches, journaled."""
    by_local = {c.local_id: c for c in cals}
    started = time.monotonic()
    with env.store.session() as session:
        rows = [
            m
            for m in plan_rows(session, plan_id)
            if m.status in (MutationStatus.PENDING, MutationStatus.FAILED)
            and (scope is None or by_local[m.calendar_id].google_id == scope)
        ]
        total_counts = counts(session, plan_id)
        total = total_counts["total"] - total_counts[MutationStatus.SKIPPED]
        done = total_counts[MutationStatus.DONE] + total_counts[MutationStatus.UNDONE]
        failed = 0
        sent = 0
        _settle_in_flight(env, session, rows, by_local, batch_size)
        # one account per batch (a batch is one account's HTTP round trip); plan order kept
        # within each account
        rows = sorted(
            (m for m in rows if m.status != MutationStatus.DONE),
            key=lambda m: (by_local[m.calendar_id].email, m.seq),
        )
        done = counts(session, plan_id)[MutationStatus.DONE] + total_counts[MutationStatus.UNDONE]
        for start in range(0, len(rows), batch_size):
            if check_pause:
                session.expire_all()
                if load_state(session).paused:
                    report = _progress(done, total, failed, sent, started, paused=True)
                    if progress:
                        progress(report)
                    return report
            chunk = rows[start : start + batch_size]
            for m in chunk:
                m.attempts += 1
                m.updated_at = clock.now()
                session.add(m)
            session.commit()
            results = _send(env, chunk, by_local, batch_size)
            for m in chunk:
                res = results[str(m.id)]
                _record(session, m, res)
                if res.ok:
                    done += 1
                    if on_done is not None:
                        on_done(session, m)
                else:
                    failed += 1
            session.commit()
            sent += len(chunk)
            if progress:
                progress(_progress(done, total, failed, sent, started))
        return _progress(done, total, failed, sent, started)


def _progress(
    done: int, total: int, failed: int, sent: int, started: float, paused: bool = False
) -> Progress:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = sent / elapsed if sent else 0.0
    left = max(total - done - failed, 0)
    eta = left / rate if rate > 0 else None
    return Progress(done, total, failed, rate, eta, paused)


def _send(
    env: MigrationEnv, rows: Sequence[Mutation], by_local: dict[int, CalendarRef], batch_size: int
) -> dict[str, WriteResult]:
    """One gateway call per account for this batch's rows."""
    per_email: dict[str, list[WriteCall]] = {}
    for m in rows:
        cal = by_local[m.calendar_id]
        call = WriteCall(str(m.id), gateway_op(m), cal.google_id, m.google_event_id, body_of(m))
        per_email.setdefault(cal.email, []).append(call)
    results: dict[str, WriteResult] = {}
    for email, calls in per_email.items():
        for r in env.gateway_for(email).execute(calls, batch_size=batch_size):
            results[r.key] = r
    return results


def _record(session: Session, m: Mutation, res: WriteResult) -> None:
    data = json.loads(m.after_json or "{}")
    if res.ok:
        m.status = MutationStatus.DONE
        m.error = None
        data["result"] = res.event
        data["adopted"] = res.already
        m.after_json = json.dumps(data, ensure_ascii=False)
    else:
        m.status = MutationStatus.FAILED
        m.error = f"{res.status} {res.reason or ''} {res.message or ''}".strip()[:500]
    m.updated_at = clock.now()
    session.add(m)


def _settle_in_flight(
    env: MigrationEnv,
    session: Session,
    rows: Sequence[Mutation],
    by_local: dict[int, CalendarRef],
    batch_size: int,
) -> None:
    """Rows sent before a crash whose answer was lost: patches already applied are done.

    Inserts and deletes need no check (resending them is idempotent and costs no extra
    event); patches are read back in batches so nothing is written twice.
    """
    suspects = [m for m in rows if m.attempts > 0 and gateway_op(m) in ("patch", "update")]
    if not suspects:
        return
    per_email: dict[str, list[WriteCall]] = {}
    for m in suspects:
        cal = by_local[m.calendar_id]
        per_email.setdefault(cal.email, []).append(
            WriteCall(str(m.id), "get", cal.google_id, m.google_event_id)
        )
    got: dict[str, WriteResult] = {}
    for email, calls in per_email.items():
        for r in env.gateway_for(email).execute(calls, batch_size=batch_size):
            got[r.key] = r
    for m in suspects:
        res = got.get(str(m.id))
        body = body_of(m) or {}
        if res is not None and res.ok and applied(body, res.event):
            _record(session, m, WriteResult(str(m.id), True, 200, event=res.event, already=True))
    session.commit()
