"""Sync cycles keep running while the migration waits between phases (the console's loop
does): a cycle after `prepare` linked the legacy blocks must read those links as the
engine wrote them (all-day blocks stay all-day) and never trip over their ids."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from tests.migration.conftest import Demo


def test_cycle_after_prepare_and_plan_runs_clean(demo: Demo, tmp_path: Path) -> None:
    d = demo
    first = d.world.sync()
    assert first.failed == 0 and not first.errors
    d.cli_json("migrate", "discover")
    assert d.cli_json("migrate", "prepare")["gate"]["passed"]
    with d.world.ctx.store.engine.connect() as c:
        mismatched = c.execute(
            text(
                "SELECT count(*) FROM eventstate b JOIN eventstate s"
                " ON s.correlation_id = b.source_correlation_id"
                " WHERE b.event_class = 'legacy_busy_block' AND b.all_day != s.all_day"
            )
        ).scalar_one()
        linked = c.execute(
            text(
                "SELECT count(*) FROM eventstate WHERE event_class = 'legacy_busy_block'"
                " AND source_correlation_id IS NOT NULL AND all_day = 1"
            )
        ).scalar_one()
    assert linked > 0  # the demo has all-day sources with legacy blocks
    assert mismatched == 0
    d.cli_json("migrate", "plan", "--out", str(tmp_path / "plan.json"))
    for _ in range(2):
        r = d.world.sync()
        assert r.failed == 0 and not r.errors, r.errors[:3]
