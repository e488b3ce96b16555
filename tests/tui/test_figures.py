"""Issue 16 defect 6: one definition for each figure (README "Figures")."""

from __future__ import annotations

import json
from datetime import timedelta

from calsync_tui.home import AppHome
from calsync_tui.service import readmodel as rm
from local_store.db import open_store
from local_store.models import SyncRun
from tests.tui.dataset import FIXED_NOW


def _headline_after(home: AppHome, runs: list[SyncRun]) -> rm.Headline:
    store = open_store(home.db_path, home.backups_dir)
    try:
        with store.session() as s:
            s.add_all(runs)
            s.commit()
            return rm.headline(s, FIXED_NOW)
    finally:
        store.close()


def test_a_paused_run_with_no_failure_keeps_the_success_rate_at_100(data_home: AppHome) -> None:
    at = FIXED_NOW - timedelta(minutes=1)
    runs = [
        SyncRun(
            kind="sync",
            started_at=at - timedelta(seconds=i),
            mutations_json=json.dumps({"insert": 5}),
            failed=0,
            success_rate=1.0,
            api_calls=5,
        )
        for i in range(1, 10)
    ]
    paused = SyncRun(  # stopped after 2 of 13 writes: 2 done, none failed
        kind="backfill",
        started_at=at,
        mutations_json=json.dumps({"stamp": 2}),
        failed=0,
        success_rate=2 / 13,
        api_calls=2,
    )
    head = _headline_after(data_home, [*runs, paused])
    assert head.success_rate == 1.0


def test_api_calls_per_hour_counts_every_run_of_the_hour(data_home: AppHome) -> None:
    at = FIXED_NOW - timedelta(minutes=30)
    runs = [
        SyncRun(kind="sync", started_at=at + timedelta(seconds=i), api_calls=10) for i in range(12)
    ]
    runs.append(SyncRun(kind="backfill", started_at=at - timedelta(minutes=1), api_calls=486))
    head = _headline_after(data_home, runs)
    assert head.api_calls_last_hour >= 12 * 10 + 486
