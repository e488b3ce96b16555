"""The whole journey on the sandbox's seeded demo world: discover counts equal DemoTruth,
backfill, rollout cycles, cutover with invariants, rollback level 2 back to the exact
pre-migration Google state."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from calsync_tui.engine.calendars import refresh_calendars, set_enabled
from calsync_tui.google.accounts import register_static_token
from calsync_tui.migration.events import private_props
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, DemoTruth, build_demo
from calsync_tui.sandbox.server import SandboxServer
from local_store.models import Calendar
from tests.engine.world import World
from tests.migration.conftest import VOLATILE, Mess


class Demo(Mess):
    truth: DemoTruth
    cals: list[str]

    def google(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for cal in self.cals:
            out[cal] = sorted(
                (
                    {k: v for k, v in e.items() if k not in VOLATILE}
                    for e in self.sandbox.events(cal)
                ),
                key=lambda e: str(e["id"]),
            )
        return out


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        # The truth is counted over the window around `now`, discover reads around the
        # real clock a second later: an hour-rounded `now` sits on the demo's 15-minute
        # grid, so an event starting exactly at the rounded edge (now + 90 days) would be
        # counted by discover and not by the truth for the rest of that hour.
        now = datetime.now(UTC)
        truth = build_demo(srv, seed=7, events=400, now=now)
        w = World(srv, tmp_path, requests_per_minute=10_000)
        w.home.config_path.write_text('{"requests_per_minute": 10000}')
        try:
            for email, token in DEMO_ACCOUNTS:
                register_static_token(w.home, w.ctx.store, email, token)
            refresh_calendars(w.ctx.store, w.ctx.gateway_for)
            cals = sorted(truth.calendars)
            set_enabled(w.ctx.store, cals, True)
            with w.ctx.store.session() as s:  # a free/busy-only view is never read
                for row in s.exec(select(Calendar).where(Calendar.access_role == "freeBusyReader")):
                    row.enabled = False
                    s.add(row)
                s.commit()
            d = Demo(w, "", "", "")
            d.truth = truth
            d.cals = cals
            yield d
        finally:
            w.close()


def test_demo_journey(demo: Demo, tmp_path: Path) -> None:
    d = demo
    pre = d.google()
    report = d.cli_json("migrate", "discover")
    per = {c["calendar"]: c for c in report["calendars"]}
    got = {}
    want = {}
    for cal, t in d.truth.calendars.items():
        c = per[cal]
        got[cal] = {
            "user_events": c["new_user_event"] + c["tracked_user_event"],
            "legacy_blocks": c["legacy_busy_block"],
            "duplicates": c["duplicates"],
            "cascades": c["cascades"],
            "orphans": c["orphans"],
            "out_of_date": c["out_of_date"],
            "external": c["external_calsync"],
            "ignored": c["ignored"],
        }
        want[cal] = {k: getattr(t, k) for k in got[cal]}
    assert got == want, str([(c, got[c], want[c]) for c in got if got[c] != want[c]])
    assert d.sandbox.stats()["writes"] == 0

    prep = d.cli_json("migrate", "prepare")
    assert prep["gate"]["passed"], prep["gate"]
    plan_file = tmp_path / "plan.json"
    plan = d.cli_json("migrate", "plan", "--out", str(plan_file))
    totals = d.truth.totals()
    deletes = sum(1 for w in plan["writes"] if w["op"] == "delete")
    assert deletes == totals["duplicates"] + totals["cascades"] + totals["orphans"]
    d.sandbox.reset_stats()
    out = d.cli_json("migrate", "backfill", "--plan", str(plan_file), "--yes")
    assert out["gate"]["passed"] and out["journal"]["failed"] == 0, out
    stats = d.sandbox.stats()
    assert stats["writes"] == plan["write_count"]
    # one batch round trip per 50 writes of one account (two accounts here), and the
    # fingerprint check re-reads series masters in batched gets
    gets = stats["by_method"].get("calendar.events.get", 0)
    assert gets > 0
    assert stats["batches"] <= -(-plan["write_count"] // 50) + 1 + -(-gets // 50) + 1

    d.cli_json("migrate", "rollout", "--percent", "100")
    for _ in range(3):
        r = d.world.sync()
        assert r.failed == 0 and r.cascades == 0, r.errors
    assert d.cli_json("migrate", "rollout", "--check")["passed"]
    d.sandbox.reset_stats()
    cut = d.cli_json("migrate", "cutover", "--yes")
    assert cut["complete"], cut
    cut_writes = d.sandbox.stats()["writes"]
    assert cut_writes == cut["journal"]["done"] > 0  # one write per block, no more
    # each block got its final content in that one write: the first uuid cycle writes
    # nothing (before, it patched description/visibility/reminders on every adopted block)
    d.sandbox.reset_stats()
    first = d.world.sync()
    assert first.planned == {} and first.failed == 0 and first.stuck == 0, first.plan
    assert d.sandbox.stats()["writes"] == 0
    d.world.assert_ok()
    for events in d.google().values():
        for e in events:
            if private_props(e).get("calsync_type") == "busy_block":
                assert e["summary"].startswith("Busy - ") or e["summary"] == "Busy"

    d.sandbox.reset_stats()
    rb = d.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb["complete"] and not rb["kept_conflicts"], rb
    assert d.google() == pre
    # reading the current state costs one listing per calendar, gets only for masters
    # (plus the gateway's read-back of each re-inserted id, which answers 409)
    by_method = d.sandbox.stats()["by_method"]
    reinserted = by_method.get("calendar.events.insert", 0)
    assert by_method.get("calendar.events.get", 0) <= gets + reinserted
    assert by_method.get("calendar.events.list", 0) <= len(d.cals)
