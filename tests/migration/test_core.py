"""Pure core: legacy linking, planning, plan files, phase machine and gates."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, SQLModel, create_engine

from calsync_tui.engine.fields import BLOCK_DESCRIPTION
from calsync_tui.engine.model import (
    KEY_ID,
    KEY_SOURCE,
    KEY_TYPE,
    EventClass,
    block_correlation_id,
    google_event_id_for,
)
from calsync_tui.errors import CalsyncError
from calsync_tui.migration import gates, phases
from calsync_tui.migration.linking import CalendarView, parse_legacy_title
from calsync_tui.migration.plan_file import MigrationPlan, read_plan, write_plan
from calsync_tui.migration.planner import (
    MigrationOptions,
    api_estimate,
    build_backfill,
    build_inventory,
    retitle_writes,
)
from calsync_tui.settings import Settings

INST = "11111111-2222-4333-8444-555555555555"
CID_S = "aaaaaaaa-2222-4333-8444-555555555555"
CID_K = "bbbbbbbb-2222-4333-8444-555555555555"
OPTS = MigrationOptions(
    installation_id=INST,
    legacy_markers=("🔒", "📅"),
    ignored_event_types=("workingLocation",),
    block_title=Settings().block_title,
)


def ev(eid: str, summary: str, start: str, end: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": eid,
        "etag": f'"{eid}-1"',
        "summary": summary,
        "start": {"dateTime": start},
        "end": {"dateTime": end},
        **extra,
    }


T1 = ("2026-11-26T09:00:00Z", "2026-11-26T09:30:00Z")
T2 = ("2026-11-26T11:00:00+01:00", "2026-11-26T12:00:00+01:00")  # 10:00Z


def world() -> list[CalendarView]:
    work = [
        ev("standup", "Standup", *T1),
        ev("lunch", "Lunch", *T2),
        ev("free", "Gym", *T1, transparency="transparent"),
    ]
    home = [
        ev("b1", "🔒 Busy - Standup", "2026-11-26T10:00:00+01:00", "2026-11-26T10:30:00+01:00"),
        ev("b1dup", "🔒 Busy - Standup", *T1),
        ev("casc", "🔒 Busy - 🔒 Busy - Dentist", *T1),
        ev("orph", "📅 Busy - Gone meeting", *T1),
        ev("dentist", "Dentist", "2026-11-27T08:00:00Z", "2026-11-27T09:00:00Z"),
        ev("moved", "🔒 Busy - Lunch", "2026-11-26T13:00:00Z", "2026-11-26T14:00:00Z"),
    ]
    return [
        CalendarView("work", "Work", "owner", work),
        CalendarView("home", "Home", "owner", home),
    ]


def test_parse_legacy_title() -> None:
    assert parse_legacy_title("🔒 Busy - Standup", ["🔒"]) == ("🔒", "Standup")
    assert parse_legacy_title("🔒Busy - X", ["🔒"]) == ("🔒", "X")
    assert parse_legacy_title("Busy - X", ["🔒"]) is None
    assert parse_legacy_title("Standup", ["🔒"]) is None


def test_linking_finds_each_kind() -> None:
    inv = build_inventory(world(), OPTS)
    links = {lk.block.event_id: (lk.source.event_id, lk.kind) for lk in inv.links.links}
    assert links == {"b1": ("standup", "exact"), "moved": ("lunch", "moved")}
    why = {u.block.event_id: u.why for u in inv.links.unlinked}
    assert why == {"b1dup": "duplicate", "casc": "cascade", "orph": "orphan"}
    counts = inv.counts()
    assert counts["home"]["legacy_busy_block"] == 5
    assert counts["home"]["duplicates"] == 1
    assert counts["home"]["cascades"] == 1
    assert counts["home"]["orphans"] == 1
    assert counts["home"]["out_of_date"] == 1
    assert counts["work"]["ignored"] == 1
    assert counts["work"]["new_user_event"] == 2


def test_ambiguous_is_reported_not_guessed() -> None:
    views = [
        CalendarView("a", "A", "owner", [ev("x", "Sync", *T1)]),
        CalendarView("b", "B", "owner", [ev("y", "Sync", *T1)]),
        CalendarView("c", "C", "owner", [ev("z", "🔒 Busy - Sync", *T1)]),
    ]
    inv = build_inventory(views, OPTS)
    assert [a.block.event_id for a in inv.links.ambiguous] == ["z"]
    assert inv.links.links == []
    writes = build_backfill(inv, OPTS)
    # no block is inserted on C for the ambiguous candidates, nothing deleted
    assert not [w for w in writes if w.calendar == "c"]
    gate = gates.prepare_gate(1, 0, 0, 1)
    assert not gate.passed and "several sources" in gate.reasons[0]


def test_backfill_plan_lists_expected_writes() -> None:
    inv = build_inventory(world(), OPTS)
    writes = build_backfill(inv, OPTS)
    got = sorted((w.op, w.calendar, w.event_id) for w in writes)
    standup_cid = next(w.correlation_id for w in writes if w.event_id == "standup")
    dentist_cid = next(w.correlation_id for w in writes if w.event_id == "dentist")
    assert standup_cid and dentist_cid
    dentist_block = google_event_id_for(block_correlation_id(dentist_cid, "work"))
    assert got == sorted(
        [
            ("delete", "home", "b1dup"),
            ("delete", "home", "casc"),
            ("delete", "home", "orph"),
            ("stamp", "work", "standup"),
            ("stamp", "work", "lunch"),
            ("stamp", "home", "dentist"),
            ("stamp", "home", "b1"),
            ("stamp", "home", "moved"),
            ("insert", "work", dentist_block),
        ]
    )
    adopt = next(w for w in writes if w.event_id == "b1")
    assert adopt.body is not None
    props = adopt.body["extendedProperties"]["private"]
    assert props[KEY_ID] == block_correlation_id(standup_cid, "home")
    assert props[KEY_SOURCE] == standup_cid and props[KEY_TYPE] == "busy_block"
    assert "summary" not in adopt.body  # legacy title kept until cutover
    moved = next(w for w in writes if w.event_id == "moved")
    assert moved.body is not None and moved.body["start"] == {"dateTime": T2[0]}
    insert = next(w for w in writes if w.op == "insert")
    assert insert.body is not None and insert.body["summary"] == "🔒 Busy - Dentist"
    assert [w.seq for w in writes] == list(range(1, len(writes) + 1))
    # the same state gives the same plan
    again = build_backfill(build_inventory(world(), OPTS), OPTS)
    assert [w.to_json() for w in again] == [w.to_json() for w in writes]
    scoped = build_backfill(inv, OPTS, scope="work")
    assert {w.calendar for w in scoped} == {"work"} and len(scoped) == 3


def test_recurring_instances_stamp_the_master_once() -> None:
    inst = [
        ev(
            f"r_{d}",
            "Weekly",
            f"2026-11-{d}T09:00:00Z",
            f"2026-11-{d}T10:00:00Z",
            recurringEventId="r",
            originalStartTime={"dateTime": f"2026-11-{d}T09:00:00Z"},
        )
        for d in (20, 27)
    ]
    views = [CalendarView("a", "A", "owner", inst), CalendarView("b", "B", "reader", [])]
    master = {"id": "r", "etag": '"m"', "summary": "Weekly", "recurrence": ["RRULE:FREQ=WEEKLY"]}
    inv = build_inventory(views, OPTS, {("a", "r"): master})
    writes = build_backfill(inv, OPTS)
    assert [(w.op, w.event_id) for w in writes] == [("stamp", "r")]  # b is read-only
    assert writes[0].before == master


def test_cutover_retitles_stamped_legacy_blocks() -> None:
    src = ev(
        "s",
        "Review",
        *T1,
        extendedProperties={
            "private": {KEY_ID: CID_S, KEY_TYPE: "user_event", "calsync_instance": INST}
        },
    )
    blk = ev(
        "k",
        "🔒 Busy - Review",
        *T1,
        extendedProperties={
            "private": {
                KEY_ID: CID_K,
                KEY_TYPE: "busy_block",
                KEY_SOURCE: CID_S,
                "calsync_instance": INST,
            }
        },
    )
    views = [CalendarView("a", "A", "owner", [src]), CalendarView("b", "B", "owner", [blk])]
    inv = build_inventory(views, OPTS)
    assert build_backfill(inv, OPTS) == []
    writes = retitle_writes(inv, OPTS)
    assert [(w.op, w.event_id) for w in writes] == [("retitle", "k")]
    body = writes[0].body
    assert body is not None
    # the engine's whole block, not just the title: the first uuid cycle has nothing to add
    assert body["summary"] == "Busy - Review"
    assert body["description"] == BLOCK_DESCRIPTION
    assert body["visibility"] == "private" and body["transparency"] == "opaque"
    assert body["attendees"] == [] and body["reminders"] == {"useDefault": False, "overrides": []}
    assert body["extendedProperties"]["private"][KEY_ID] == CID_K  # the block's own id kept
    assert body["extendedProperties"]["private"][KEY_SOURCE] == CID_S
    assert "id" not in body and body["status"] == "confirmed"

    # a block of ours with the template title: written only when its content differs
    done = {**blk, **body, "id": "k"}
    views[1] = CalendarView("b", "B", "owner", [done])
    assert retitle_writes(build_inventory(views, OPTS), OPTS) == []
    drifted = {**done, "reminders": {"useDefault": True}}
    views[1] = CalendarView("b", "B", "owner", [drifted])
    again = retitle_writes(build_inventory(views, OPTS), OPTS)
    assert [(w.op, w.body and w.body["reminders"]) for w in again] == [
        ("patch", {"useDefault": False, "overrides": []})
    ]
    # the user's title settings decide the title, as in the engine
    hidden = Settings(hide_titles=True)
    opts = dataclasses.replace(OPTS, block_title=hidden.block_title, settings=hidden)
    views[1] = CalendarView("b", "B", "owner", [blk])
    [w] = retitle_writes(build_inventory(views, opts), opts)
    assert w.body is not None and w.body["summary"] == "Busy"


def test_plan_file_round_trip_tamper_and_mode(tmp_path: Path) -> None:
    inv = build_inventory(world(), OPTS)
    plan = MigrationPlan.new("backfill", None, inv.fingerprint(), build_backfill(inv, OPTS), 4)
    path = write_plan(plan, tmp_path / "plan.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = read_plan(path)
    assert back.plan_id == plan.plan_id and back.fingerprint == plan.fingerprint
    assert [w.to_json() for w in back.writes] == [w.to_json() for w in plan.writes]
    assert back.estimate == {"writes": 9, "units": 9, "round_trips": 3, "batch_size": 4}
    raw = json.loads(path.read_text())
    raw["writes"][0]["op"] = "insert"
    path.write_text(json.dumps(raw))
    with pytest.raises(CalsyncError, match="modified after it was made"):
        read_plan(path)
    path.write_text("{not json")
    with pytest.raises(CalsyncError, match="not valid JSON"):
        read_plan(path)
    with pytest.raises(CalsyncError, match="does not exist"):
        read_plan(tmp_path / "nope.json")


def test_fingerprint_changes_with_any_etag() -> None:
    a = build_inventory(world(), OPTS).fingerprint()
    views = world()
    views[1].events[0]["etag"] = '"changed"'  # type: ignore[index]
    assert build_inventory(views, OPTS).fingerprint() != a
    assert api_estimate(0, 50)["round_trips"] == 0
    assert api_estimate(101, 50)["round_trips"] == 3


def test_phase_machine_persists_gates_and_history(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    SQLModel.metadata.create_all(engine)
    with Session(engine) as s:
        st = phases.load_state(s)
        with pytest.raises(CalsyncError, match="one at a time"):
            phases.advance(st, phases.Phase.BACKFILL, gates.discover_gate(True, 3))
        with pytest.raises(CalsyncError, match="run `migrate discover`"):
            phases.advance(st, phases.Phase.PREPARE, gates.discover_gate(False, 0))
        phases.advance(st, phases.Phase.PREPARE, gates.discover_gate(True, 3))
        s.commit()
    with Session(engine) as s:
        st = phases.load_state(s)
        assert st.phase == 1
        assert phases.gates(st)["discover"]["passed"] is True
        events = [h["event"] for h in phases.history(st)]
        assert events == ["gate_failed", "advance"]


def test_gates() -> None:
    assert gates.backfill_gate(10, 10, 0, 0).passed
    g = gates.backfill_gate(10, 9, 1, 0)
    assert not g.passed and len(g.reasons) == 2
    clean = gates.CycleMetrics(0, 0, 1.0)
    dirty = gates.CycleMetrics(1, 0, 1.0)
    assert gates.rollout_gate([clean] * 3, 3, 1.0, 2).passed
    assert not gates.rollout_gate([clean, clean], 3, 1.0, 2).passed
    assert not gates.rollout_gate([clean, dirty, clean], 3, 1.0, 2).passed
    assert not gates.rollout_gate([clean] * 3, 3, 0.99, 2).passed
    assert not gates.rollout_gate([gates.CycleMetrics(0, 0, 0.99)] * 3, 3, 1.0, 1).passed
    assert gates.prepare_gate(4, 3, 1, 0).passed
    assert not gates.prepare_gate(4, 2, 1, 0).passed
    assert EventClass.LEGACY_BUSY_BLOCK.value == "legacy_busy_block"


def test_restore_patch_nulls_what_was_added_and_puts_back_what_changed() -> None:
    from calsync_tui.migration.rollback import restore_patch

    before = {"id": "x", "etag": '"1"', "summary": "A", "start": {"dateTime": "t"}}
    now = {
        "id": "x",
        "etag": '"3"',
        "summary": "B",
        "description": "added",
        "start": {"dateTime": "t", "timeZone": "UTC"},
        "extendedProperties": {"private": {KEY_ID: CID_S}},
    }
    assert restore_patch(now, before) == {
        "summary": "A",
        "description": None,
        "start": {"timeZone": None},
        "extendedProperties": None,
    }
    assert restore_patch(before, before) == {}


def test_applied_tells_a_landed_patch_from_a_lost_one() -> None:
    from calsync_tui.writes.readback import applied

    body = {"extendedProperties": {"private": {KEY_ID: CID_S, "calsync_v": "1"}}, "summary": "S"}
    event = {
        "summary": "S",
        "extendedProperties": {"private": {KEY_ID: CID_S, "calsync_v": "1", "x": "y"}},
    }
    assert applied(body, event)
    assert not applied(body, {**event, "summary": "T"})
    assert not applied(body, {"summary": "S"})
    assert not applied(body, None)
    assert applied({"description": None}, {"summary": "S"})
    assert not applied({"description": None}, {"description": "d"})


def test_engine_times_mirror_the_engine_rule() -> None:
    from calsync_tui.migration.planner import engine_times

    mixed = {
        "start": {"dateTime": "2026-11-26T10:00:00+01:00", "timeZone": "Europe/Paris"},
        "end": {"dateTime": "2026-11-26T06:00:00-05:00", "timeZone": "America/New_York"},
    }
    # the engine keeps one zone per source (its start's) on both ends of the block
    assert engine_times(mixed) == (
        {"dateTime": "2026-11-26T10:00:00+01:00", "timeZone": "Europe/Paris"},
        {"dateTime": "2026-11-26T06:00:00-05:00", "timeZone": "Europe/Paris"},
    )
    all_day = {"start": {"date": "2026-11-26", "timeZone": "UTC"}, "end": {"date": "2026-11-27"}}
    assert engine_times(all_day) == ({"date": "2026-11-26"}, {"date": "2026-11-27"})
    assert engine_times({"start": {"dateTime": "soon"}, "end": {"date": "2026-11-27"}}) is None
