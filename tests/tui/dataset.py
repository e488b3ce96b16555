"""A fixed, seeded store for console tests and snapshots: real SQLite via `open_store`.

Three accounts' calendars with every event class, blocks linked to sources, a journal,
sync runs, a migration state and alerts — all timestamps from `FIXED_NOW`, so a snapshot
is the same on every machine.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from calsync_tui.engine.model import block_correlation_id, google_event_id_for
from calsync_tui.home import AppHome
from local_store.db import open_store
from local_store.models import (
    Account,
    Alert,
    Calendar,
    EventState,
    MigrationState,
    Mutation,
    SyncRun,
)

FIXED_NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)

TITLES = (
    "Standup",
    "1:1 with Ana",
    "Design review",
    "Dentist",
    "Gym",
    "Lunch",
    "Planning",
    "Retro",
    "School run",
    "Flight to Lisbon",
    "Board prep",
    "Yoga",
)


def fixed_clock() -> datetime:
    return FIXED_NOW


def _cid(rng: random.Random) -> str:
    import uuid

    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_store(
    root: Path, *, events_per_calendar: int = 40, seed: int = 7, with_history: bool = True
) -> AppHome:
    """Make a home at `root` with a populated store; returns the home."""
    home = AppHome(root).ensure()
    home.installation_id()
    rng = random.Random(seed)
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            work = Account(email="ana@work.example", auth_kind="static", created_at=FIXED_NOW)
            personal = Account(email="ana@home.example", auth_kind="static", created_at=FIXED_NOW)
            side = Account(
                email="ana@side.example",
                auth_kind="oauth",
                needs_signin=True,
                signin_error="refresh token revoked",
                created_at=FIXED_NOW,
            )
            s.add_all([work, personal, side])
            s.flush()
            cals = [
                Calendar(
                    account_id=work.id or 0,
                    google_id="ana@work.example",
                    summary="Work",
                    access_role="owner",
                    primary=True,
                    enabled=True,
                    engine_mode="hybrid",
                    last_synced_at=FIXED_NOW - timedelta(minutes=2),
                ),
                Calendar(
                    account_id=personal.id or 0,
                    google_id="ana@home.example",
                    summary="Personal",
                    access_role="owner",
                    primary=True,
                    enabled=True,
                    engine_mode="legacy",
                    last_synced_at=FIXED_NOW - timedelta(minutes=2),
                ),
                Calendar(
                    account_id=side.id or 0,
                    google_id="side-project@group.example",
                    summary="Side project",
                    access_role="writer",
                    enabled=True,
                    engine_mode="legacy",
                    last_synced_at=FIXED_NOW - timedelta(hours=3),
                    last_error="sign-in needed",
                ),
                Calendar(
                    account_id=work.id or 0,
                    google_id="holidays@group.example",
                    summary="Holidays",
                    access_role="reader",
                    enabled=False,
                    engine_mode="legacy",
                ),
            ]
            s.add_all(cals)
            s.flush()
            targets = [c for c in cals if c.enabled and c.access_role in ("owner", "writer")]
            seq = 0
            for cal in cals[:3]:
                for i in range(events_per_calendar):
                    start = FIXED_NOW + timedelta(hours=rng.randint(-100, 900))
                    title = TITLES[rng.randrange(len(TITLES))]
                    roll = rng.random()
                    klass = (
                        "tracked_user_event"
                        if roll < 0.45
                        else "new_user_event"
                        if roll < 0.7
                        else "ignored"
                        if roll < 0.8
                        else "external_calsync"
                        if roll < 0.85
                        else "error"
                        if roll < 0.88
                        else "legacy_busy_block"
                    )
                    src = EventState(
                        correlation_id=_cid(rng),
                        calendar_id=cal.id or 0,
                        google_event_id=f"evt{cal.id}x{i:05d}",
                        event_class=klass,
                        stamped=klass == "tracked_user_event",
                        summary=title,
                        start=start.isoformat().replace("+00:00", "Z"),
                        end=(start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
                        start_utc=start,
                        status="synced",
                        last_seen=FIXED_NOW,
                        error="end before start" if klass == "error" else None,
                    )
                    if klass == "legacy_busy_block":
                        src.summary = f"🔒 Busy - {title}"
                        src.event_type = "busy_block"
                    s.add(src)
                    if klass not in ("tracked_user_event", "new_user_event"):
                        continue
                    for tgt in targets:
                        if tgt.id == cal.id:
                            continue
                        bcid = block_correlation_id(src.correlation_id, tgt.google_id)
                        status = "failed" if rng.random() < 0.02 else "synced"
                        s.add(
                            EventState(
                                correlation_id=bcid,
                                calendar_id=tgt.id or 0,
                                google_event_id=google_event_id_for(bcid),
                                event_type="busy_block",
                                event_class="busy_block",
                                created_by_us=True,
                                stamped=True,
                                source_correlation_id=src.correlation_id,
                                status=status,
                                summary=f"Busy - {title}",
                                start=src.start,
                                end=src.end,
                                start_utc=start,
                                last_seen=FIXED_NOW,
                            )
                        )
                        if with_history:
                            seq += 1
                            s.add(
                                Mutation(
                                    plan_id="3f2a9c1e-sync",
                                    seq=seq,
                                    origin="sync",
                                    op="insert",
                                    calendar_id=tgt.id or 0,
                                    google_event_id=google_event_id_for(bcid),
                                    correlation_id=bcid,
                                    reason="new source",
                                    status="failed" if status == "failed" else "done",
                                    error="403 rateLimitExceeded" if status == "failed" else None,
                                    created_at=FIXED_NOW - timedelta(minutes=seq % 50),
                                    updated_at=FIXED_NOW,
                                )
                            )
            # An orphaned block (source gone).
            s.add(
                EventState(
                    correlation_id=_cid(rng),
                    calendar_id=cals[0].id or 0,
                    google_event_id="orphan0001",
                    event_type="busy_block",
                    event_class="orphaned_block",
                    created_by_us=True,
                    stamped=True,
                    source_correlation_id=_cid(rng),
                    summary="Busy - Old meeting",
                    start="2026-03-09T10:00:00Z",
                    end="2026-03-09T11:00:00Z",
                    start_utc=FIXED_NOW - timedelta(days=1),
                    status="synced",
                )
            )
            if with_history:
                for k in range(6):
                    s.add(
                        SyncRun(
                            kind="sync",
                            started_at=FIXED_NOW - timedelta(minutes=10 * (6 - k)),
                            finished_at=FIXED_NOW
                            - timedelta(minutes=10 * (6 - k))
                            + timedelta(seconds=2),
                            duration_ms=1800 + 40 * k,
                            events_seen=3 * events_per_calendar,
                            classes_json="{}",
                            mutations_json="{}",
                            api_calls=3 + k,
                            api_round_trips=3,
                            success_rate=0.998 if k == 2 else 1.0,
                            latency_ms=210.0 + 5 * k,
                        )
                    )
                s.add(
                    Alert(
                        created_at=FIXED_NOW - timedelta(minutes=30),
                        level="error",
                        kind="signin",
                        message="ana@side.example must sign in again",
                        calendar_id=cals[2].id,
                    )
                )
                s.add(
                    Alert(
                        created_at=FIXED_NOW - timedelta(hours=5),
                        level="warning",
                        kind="auto_rollback",
                        message="cascade detected on Personal: engine back to legacy",
                        calendar_id=cals[1].id,
                        acknowledged=True,
                    )
                )
                s.add(
                    MigrationState(
                        id=1,
                        phase=2,
                        rollout_percent=0,
                        gates_json=json.dumps(
                            {"discover": {"passed": True}, "prepare": {"passed": True}}
                        ),
                        history_json="[]",
                        updated_at=FIXED_NOW,
                    )
                )
            s.commit()
    finally:
        store.close()
    return home


def build_big_calendar(root: Path, n: int, seed: int = 3) -> AppHome:
    """A home with one enabled calendar of `n` events, bulk-inserted (for 50k tests)."""
    home = AppHome(root).ensure()
    home.installation_id()
    rng = random.Random(seed)
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            acc = Account(email="big@example.com", auth_kind="static", created_at=FIXED_NOW)
            s.add(acc)
            s.flush()
            cal = Calendar(
                account_id=acc.id or 0,
                google_id="big@example.com",
                summary="Big",
                access_role="owner",
                primary=True,
                enabled=True,
                last_synced_at=FIXED_NOW,
            )
            s.add(cal)
            s.commit()
            cal_id = cal.id
        rows = []
        for i in range(n):
            start = FIXED_NOW + timedelta(minutes=17 * i)
            rows.append(
                {
                    "correlation_id": _cid(rng),
                    "calendar_id": cal_id,
                    "google_event_id": f"big{i:06d}",
                    "event_type": "user_event",
                    "event_class": "tracked_user_event" if i % 3 else "new_user_event",
                    "created_by_us": False,
                    "stamped": bool(i % 3),
                    "summary": f"{TITLES[i % len(TITLES)]} #{i}",
                    "title_hash": "",
                    "start": start.isoformat().replace("+00:00", "Z"),
                    "end": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
                    "start_utc": start,
                    "all_day": False,
                    "status": "synced",
                    "created_at": FIXED_NOW,
                    "updated_at": FIXED_NOW,
                }
            )
        with store.engine.begin() as conn:
            conn.execute(EventState.__table__.insert(), rows)  # type: ignore[attr-defined]
    finally:
        store.close()
    return home
