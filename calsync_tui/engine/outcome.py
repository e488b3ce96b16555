"""Stage 6, report: the cycle's metrics from the executor's outcome, the SyncRun row, the
alerts it raises, and the scope marker the next cycle compares against.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from calsync_tui import clock
from calsync_tui.engine import scope
from calsync_tui.engine.events import AlertRaised, CycleDone, EventSink, emit
from calsync_tui.engine.execute import ExecuteReport
from calsync_tui.engine.plan import SourceItem
from calsync_tui.engine.read import Gateways
from calsync_tui.engine.report import CycleReport
from local_store.models import Alert, SyncRun
from local_store.queries import count_stuck

_RUN = SyncRun.__table__  # type: ignore[attr-defined]
_ALERT = Alert.__table__  # type: ignore[attr-defined]


def _latencies(sources: Sequence[SourceItem], touched: set[str], now: datetime) -> list[float]:
    """ms from a source's `updated` on Google to now, for sources whose blocks changed."""
    out = []
    for src in sources:
        if src.correlation_id in touched and src.updated:
            try:
                upd = datetime.fromisoformat(src.updated.replace("Z", "+00:00"))
            except ValueError:
                continue
            out.append(max(0.0, (now - upd).total_seconds() * 1000))
    return out


def finish(
    store: Any,
    r: CycleReport,
    exec_report: ExecuteReport,
    sources: Sequence[SourceItem],
    gateways: Gateways,
    *,
    t0: float,
    now: Callable[[], datetime],
    on_event: EventSink | None,
    extra_alerts: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Fill `r` from the outcome, record the SyncRun (and alerts, unless dry run)."""
    r.mutations = dict(exec_report.done)
    r.failed = exec_report.failed_total
    attempted = exec_report.done_total + exec_report.failed_total
    r.success_rate = 1.0 if attempted == 0 else exec_report.done_total / attempted
    r.errors.extend(exec_report.errors[:20])
    for cal_id, info in r.per_calendar.items():
        info["writes"] = exec_report.writes_by_calendar.get(cal_id, 0)
        info["failed"] = exec_report.failed_by_calendar.get(cal_id, 0)
    at = now()
    lat = _latencies(sources, exec_report.touched_sources, at)
    if lat:
        r.latency_ms = max(lat)
        r.latency_p50_ms = statistics.median(lat)
    units, trips = gateways.spent()
    r.api_calls += units
    r.api_round_trips += trips
    with store.engine.connect() as conn:
        r.stuck = count_stuck(conn)
    r.duration_ms = (time.perf_counter() - t0) * 1000
    alerts: list[tuple[str, str, str]] = list(extra_alerts)
    if r.cascades:
        alerts.append(
            ("cascade", "error", f"{r.cascades} cascade block(s) detected (a block of a block)")
        )
    for email in r.needs_signin:
        alerts.append(
            ("needs_signin", "warning", f"{email} needs to sign in again: calsync-tui auth login")
        )
    with store.engine.begin() as conn:
        res = conn.execute(
            insert(_RUN).values(
                kind="dry_run" if r.dry_run else "sync",
                started_at=r.started_at,
                finished_at=at,
                duration_ms=r.duration_ms,
                events_seen=r.events_seen,
                classes_json=json.dumps(r.classes, sort_keys=True),
                mutations_json=json.dumps(r.planned if r.dry_run else r.mutations, sort_keys=True),
                api_calls=r.api_calls,
                api_round_trips=r.api_round_trips,
                cascades=r.cascades,
                stuck=r.stuck,
                failed=r.failed,
                success_rate=r.success_rate,
                latency_ms=r.latency_ms,
                error="; ".join(r.errors[:3]) or None,
            )
        )
        r.run_id = res.inserted_primary_key[0] if res.inserted_primary_key else None
        if not r.dry_run:
            for kind, level, message in alerts:
                conn.execute(
                    insert(_ALERT).values(
                        created_at=at, level=level, kind=kind, message=message, acknowledged=False
                    )
                )
    for kind, level, message in alerts:
        r.alerts.append(message)
        emit(on_event, AlertRaised(kind, message, level))
    emit(on_event, CycleDone(r))


def leave_marker(
    store: Any,
    r: CycleReport,
    exec_report: ExecuteReport,
    *,
    fingerprint: str,
    clean_reads: bool,
) -> None:
    """After a clean non-dry cycle the store is converged: the next cycle may be scoped.
    Anything less (failure, skip, error, cascade, stuck) forces a full one."""
    if r.dry_run:
        return  # writes no state; high_water ignores dry runs
    clean = (
        not r.errors
        and clean_reads
        and r.failed == 0
        and exec_report.skipped == 0
        and r.cascades == 0
        and r.stuck == 0
    )
    if not clean:
        scope.forget(store)
        return
    with store.engine.connect() as conn:
        water = scope.high_water(conn)
    prior = scope.get_marker(store)
    scoped = r.scope == scope.SCOPED and prior is not None
    scope.remember(
        store,
        scope.Marker(
            fingerprint=fingerprint,
            water=water,
            cycles_since_full=prior.cycles_since_full + 1 if scoped and prior else 0,
            full_at=prior.full_at if scoped and prior else clock.now().timestamp(),
        ),
    )
