"""The whole migration through the real CLI against the sandbox: discover, prepare, plan,
backfill (stale plan refused), rollout gate with real engine cycles, cutover, invariants,
and rollback level 2 back to the exact pre-migration Google state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlmodel import select

from calsync_tui.engine.model import EngineMode
from calsync_tui.migration.events import private_props
from calsync_tui.migration.rollback import check_auto_rollback
from calsync_tui.writes.readback import applied
from calsync_tui.writes.record import record_of
from local_store.models import Calendar, MigrationState, Mutation
from tests.migration.conftest import Mess


def _writes(m: Mess) -> int:
    return int(m.sandbox.stats()["writes"])


def _journal(m: Mess) -> list[Mutation]:
    with m.world.ctx.store.session() as s:
        return list(s.exec(select(Mutation)))


def _diff(now: dict[str, list[dict[str, Any]]], pre: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Readable differences between two `Mess.google()` snapshots."""
    out = []
    for cal in pre:
        a = {e["id"]: e for e in now[cal]}
        b = {e["id"]: e for e in pre[cal]}
        for eid in sorted(set(a) | set(b)):
            if a.get(eid) != b.get(eid):
                x, y = a.get(eid) or {}, b.get(eid) or {}
                keys = sorted(k for k in set(x) | set(y) if x.get(k) != y.get(k))
                out.append(
                    f"{cal}/{eid}: " + "; ".join(f"{k}: {x.get(k)!r} != {y.get(k)!r}" for k in keys)
                )
    return out


def _calendars(m: Mess) -> list[Calendar]:
    with m.world.ctx.store.session() as s:
        return list(s.exec(select(Calendar)))


def expected_backfill(m: Mess) -> set[tuple[str, str]]:
    """(op, calendar) pairs per event id the plan must hold (inserts counted apart)."""
    i = m.ids
    return {
        ("delete", i["b_cascade"]),
        ("delete", i["b_orphan"]),
        ("stamp", i["standup"]),
        ("stamp", i["lunch"]),
        ("stamp", i["weekly"]),
        ("stamp", i["dentist"]),
        ("stamp", i["b_lunch_moved"]),
        ("stamp", i["b_weekly0"]),
        ("stamp", i["b_weekly1"]),
        ("stamp", i["b_weekly2"]),
        ("stamp", i["c_standup"]),
    }


def test_full_journey(mess: Mess, tmp_path: Path) -> None:
    m = mess
    pre = m.google()

    # 0 discover: read-only, counts per calendar
    report = m.cli_json("migrate", "discover")
    per = {c["calendar"]: c for c in report["calendars"]}
    assert per[m.b]["legacy_busy_block"] == 8
    assert per[m.b]["duplicates"] == 1 and per[m.b]["cascades"] == 1
    assert per[m.b]["orphans"] == 1 and per[m.b]["out_of_date"] == 1
    assert per[m.c]["legacy_busy_block"] == 1
    assert per[m.a]["new_user_event"] == 5  # standup, lunch, 3 weekly instances
    assert per[m.a]["ignored"] == 1
    assert _writes(m) == 0

    # dry-run backfill before prepare is refused (phase 0); after prepare it writes nothing
    code, _, err = m.cli("migrate", "backfill", "--dry-run")
    assert code == 1 and "phase 1 prepare" in err
    prep = m.cli_json("migrate", "prepare")
    assert prep["gate"]["passed"], prep["gate"]
    before_stats = m.sandbox.stats()["writes"]
    dry = m.cli_json("migrate", "backfill", "--dry-run")
    assert dry["dry_run"] and dry["write_count"] == 19
    assert m.sandbox.stats()["writes"] == before_stats == 0
    assert _journal(m) == []

    # plan: exactly the expected writes
    plan_file = tmp_path / "plan.json"
    plan = m.cli_json("migrate", "plan", "--out", str(plan_file), "--batch-size", "4")
    got = {(w["op"], w["event_id"]) for w in plan["writes"] if w["op"] != "insert"}
    pair = {m.ids["b_standup"], m.ids["b_standup_dup"]}  # same age: either may be kept
    dup = {(op, e) for op, e in got if e in pair}
    assert {op for op, _ in dup} == {"stamp", "delete"} and {e for _, e in dup} == pair
    assert got - dup == expected_backfill(m)
    inserts = sorted(w["calendar"] for w in plan["writes"] if w["op"] == "insert")
    # lunch on C, 3 weekly instances on C, dentist on A and on C
    assert inserts == sorted([m.c, m.c, m.c, m.c, m.a, m.c])
    assert plan["api_estimate"] == {"writes": 19, "units": 19, "round_trips": 5, "batch_size": 4}
    assert (plan_file.stat().st_mode & 0o777) == 0o600

    # a stale plan is refused and nothing is written
    m.sandbox.patch_event(m.a, m.ids["lunch"], {"description": "bring salad"})
    code, _, err = m.cli("migrate", "backfill", "--plan", str(plan_file), "--yes")
    assert code == 1 and "stale" in err
    assert _writes(m) == 0 and _journal(m) == []  # (harness edits are not counted)
    pre = m.google()  # the user's edit is part of the pre-migration state
    # no --yes with stdin not a terminal: refused (exit 2)
    m.cli_json("migrate", "plan", "--out", str(plan_file), "--batch-size", "4")
    code, _, err = m.cli("migrate", "backfill", "--plan", str(plan_file))
    assert code == 2 and "--yes" in err

    # 2 backfill
    m.sandbox.reset_stats()
    out = m.cli_json("migrate", "backfill", "--plan", str(plan_file), "--yes")
    assert out["journal"]["done"] == 19 and out["gate"]["passed"], out
    stats = m.sandbox.stats()
    assert stats["writes"] == 19
    rows = _journal(m)
    assert all(r.before_json for r in rows if r.op != "insert")
    # running the same plan again writes nothing
    m.sandbox.reset_stats()
    again = m.cli_json("migrate", "backfill", "--plan", str(plan_file), "--yes")
    assert again["journal"]["done"] == 19 and m.sandbox.stats()["writes"] == 0

    # 3 rollout: gate needs clean cycles of the real engine
    ro = m.cli_json("migrate", "rollout", "--percent", "100")
    assert set(ro["hybrid"]) == {m.a, m.b, m.c} and not ro["gate"]["passed"]
    code, _, _ = m.cli("migrate", "cutover", "--yes")
    assert code == 1
    for _ in range(3):
        r = m.world.sync()
        assert r.failed == 0 and r.cascades == 0, r.errors
        with m.world.ctx.store.session() as s:
            assert check_auto_rollback(s, r) == []
    gate = m.cli_json("migrate", "rollout", "--check")
    assert gate["passed"], gate

    # 4 cutover: no legacy title left, uuid everywhere, invariants hold
    cut = m.cli_json("migrate", "cutover", "--yes")
    assert cut["complete"], cut
    with m.world.ctx.store.session() as s:
        assert {c.engine_mode for c in s.exec(select(Calendar))} == {EngineMode.UUID}
        st = s.get(MigrationState, 1)
        assert st is not None and st.phase == 4 and not st.legacy_detection
    # cutover wrote each block's final content once: the next cycle has nothing to write
    m.sandbox.reset_stats()
    first = m.world.sync()
    assert first.planned == {} and first.failed == 0, first.plan
    assert m.sandbox.stats()["writes"] == 0
    m.world.assert_ok()
    now = {(cal, e["id"]): e for cal, events in m.google().items() for e in events}
    cut_rows = [r for r in _journal(m) if r.origin == "cutover"]
    assert len(cut_rows) == 12  # 6 adopted legacy blocks + 6 inserted by the backfill
    by_local = {c.id: c.google_id for c in _calendars(m)}
    for row in cut_rows:  # a crash after sending: the read-back sees the patch landed
        body = record_of(row).body
        assert body is not None and body["visibility"] == "private"
        assert applied(body, now[(by_local[row.calendar_id], row.google_event_id)])
    for cal, events in m.google().items():
        for e in events:
            props = private_props(e)
            if props.get("calsync_type") == "busy_block":
                assert e["summary"].startswith("Busy - "), (cal, e["summary"])
            elif e.get("transparency") != "transparent":
                assert props.get("calsync_id"), (cal, e["summary"])

    # rollback level 2: dry-run writes nothing, then Google is back exactly as before
    m.sandbox.reset_stats()
    preview = m.cli_json("migrate", "rollback", "--level", "2", "--dry-run")
    assert preview["conflicts"] == [] and m.sandbox.stats()["writes"] == 0
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb["complete"] and rb["journal"]["failed"] == 0, rb
    assert _diff(m.google(), pre) == []
    with m.world.ctx.store.session() as s:
        assert {c.engine_mode for c in s.exec(select(Calendar))} == {EngineMode.LEGACY}
    # a second level 2 has nothing left to do
    m.sandbox.reset_stats()
    rb2 = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb2["journal"]["total"] == 0 and m.sandbox.stats()["writes"] == 0
    status = m.cli_json("migrate", "status")
    assert status["phase"] == 1 and json.dumps(status["history"])
