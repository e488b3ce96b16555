"""The whole journey on the sandbox's seeded demo world: discover counts equal DemoTruth,
backfill, rollout cycles, cutover with invariants, rollback level 2 back to the exact
pre-migration Google state."""

from __future__ import annotations

from pathlib import Path

from calsync_tui.migration.events import private_props
from tests.migration.conftest import Demo


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
    # (+ each whole batch the sandbox failed with 503/429: the gateway sends it again)
    assert stats["batches"] <= (
        -(-plan["write_count"] // 50) + 1 + -(-gets // 50) + 1 + d.sandbox.batch_faults.failed
    )

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
