"""Unit tests for the pure planner: desired minus actual -> mutations."""

from __future__ import annotations

import json

from calsync_tui.engine.fields import mirror_digest
from calsync_tui.engine.model import EngineMode, Op, block_correlation_id, google_event_id_for
from calsync_tui.engine.plan import (
    BlockItem,
    CalendarRef,
    Plan,
    SourceItem,
    block_body,
    build_plan,
)
from calsync_tui.settings import Settings

ME = "11111111-1111-4111-8111-111111111111"
A = CalendarRef(1, "a@x", "owner", "a@x")
B = CalendarRef(2, "b@x", "writer", "b@x")
R = CalendarRef(3, "r@x", "reader", "a@x")
S = Settings()
START = {"dateTime": "2030-01-10T09:00:00+01:00", "timeZone": "Europe/Paris"}
END = {"dateTime": "2030-01-10T10:00:00+01:00", "timeZone": "Europe/Paris"}


def src(
    cal: CalendarRef = A, cid: str = "55555555-5555-4555-8555-555555555555", **kw: object
) -> SourceItem:
    base: dict[str, object] = {
        "calendar": cal,
        "google_event_id": "ev1",
        "correlation_id": cid,
        "summary": "Dentist",
        "start": START,
        "end": END,
        "stamped": True,
        "stamp_event_id": "ev1",
        "stamp_id": cid,
    }
    base.update(kw)
    return SourceItem(**base)  # type: ignore[arg-type]


def our_block(s: SourceItem, target: CalendarRef, **kw: object) -> BlockItem:
    body = block_body(s, target, installation_id=ME, settings=S)
    base: dict[str, object] = {
        "calendar": target,
        "google_event_id": body["id"],
        "correlation_id": body["extendedProperties"]["private"]["calsync_id"],
        "source_correlation_id": s.correlation_id,
        "digest": mirror_digest(body),
    }
    base.update(kw)
    return BlockItem(**base)  # type: ignore[arg-type]


def plan(sources: list[SourceItem], blocks: list[BlockItem], **kw: object) -> Plan:
    settings = kw.pop("settings", S)
    return build_plan([A, B, R], sources, blocks, installation_id=ME, settings=settings, **kw)  # type: ignore[arg-type]


def ops(p: Plan) -> list[tuple[str, str]]:
    return [(str(m.op), m.calendar_google_id) for m in p.mutations]


def test_source_gets_one_block_per_other_writable_calendar() -> None:
    p = plan([src()], [])
    assert ops(p) == [("insert", "b@x")]
    p2 = plan([src(R)], [])
    assert sorted(ops(p2)) == [("insert", "a@x"), ("insert", "b@x")]


def test_block_body_content() -> None:
    s = src(summary="Dentist", start={"date": "2030-01-10"}, end={"date": "2030-01-11"})
    body = block_body(s, B, installation_id=ME, settings=S)
    cid = block_correlation_id(s.correlation_id, "b@x")
    assert body["id"] == google_event_id_for(cid)
    assert body["start"] == {"date": "2030-01-10"} and body["end"] == {"date": "2030-01-11"}
    assert body["transparency"] == "opaque" and body["visibility"] == "private"
    assert body["attendees"] == [] and body["reminders"] == {"useDefault": False, "overrides": []}
    assert body["summary"] == "Busy - Dentist"
    assert "Dentist" not in body["description"]
    assert body["extendedProperties"]["private"] == {
        "calsync_id": cid,
        "calsync_type": "busy_block",
        "calsync_source": s.correlation_id,
        "calsync_v": "1",
        "calsync_instance": ME,
    }
    timed = block_body(src(), B, installation_id=ME, settings=S)
    assert timed["start"] == START
    hidden = block_body(src(), B, installation_id=ME, settings=Settings(hide_titles=True))
    assert hidden["summary"] == "Busy"


def test_in_sync_block_means_nothing_to_do() -> None:
    s = src()
    assert plan([s], [our_block(s, B)]).mutations == []


def test_edited_block_is_patched_back_and_moved_source_patches() -> None:
    s = src()
    p = plan([s], [our_block(s, B, digest="edited")])
    assert ops(p) == [("patch", "b@x")]
    assert p.mutations[0].body is not None and p.mutations[0].body["status"] == "confirmed"
    moved = src(
        start={"dateTime": "2030-01-10T11:00:00+01:00"},
        end={"dateTime": "2030-01-10T12:00:00+01:00"},
    )
    p2 = plan([moved], [our_block(s, B)])
    assert ops(p2) == [("patch", "b@x")]
    assert p2.mutations[0].body["start"]["dateTime"] == "2030-01-10T11:00:00+01:00"  # type: ignore[index]


def test_orphan_and_duplicate_blocks_are_deleted() -> None:
    s = src()
    gone = our_block(s, B)
    p = plan([], [gone])
    assert ops(p) == [("delete", "b@x")] and p.mutations[0].reason.startswith("orphan")
    dup = our_block(
        s, B, google_event_id="zzz", correlation_id="66666666-6666-4666-8666-666666666666"
    )
    p2 = plan([s], [our_block(s, B), dup])
    assert [(str(m.op), m.google_event_id) for m in p2.mutations] == [("delete", "zzz")]


def test_manual_deletion_restored_unless_respected() -> None:
    s = src()
    deleted = our_block(s, B, live=False, deleted_by_hand=True)
    p = plan([s], [deleted])
    assert ops(p) == [("insert", "b@x")] and "restore" in p.mutations[0].reason
    respect = Settings(respect_manual_deletion=True)
    assert plan([s], [deleted], settings=respect).mutations == []


def test_stamps_once_per_master_and_not_on_readers_or_legacy() -> None:
    i1 = src(
        google_event_id="m_1",
        correlation_id="77777777-7777-4777-8777-777777777771",
        stamped=False,
        stamp_event_id="m",
        stamp_id="88888888-8888-4888-8888-888888888888",
    )
    i2 = src(
        google_event_id="m_2",
        correlation_id="77777777-7777-4777-8777-777777777772",
        stamped=False,
        stamp_event_id="m",
        stamp_id="88888888-8888-4888-8888-888888888888",
    )
    p = plan([i1, i2], [])
    stamps = [m for m in p.mutations if m.op == Op.STAMP]
    assert len(stamps) == 1 and stamps[0].google_event_id == "m"
    assert stamps[0].body == {
        "extendedProperties": {
            "private": {
                "calsync_id": "88888888-8888-4888-8888-888888888888",
                "calsync_type": "user_event",
                "calsync_v": "1",
                "calsync_instance": ME,
            }
        }
    }
    assert sum(1 for m in p.mutations if m.op == Op.INSERT) == 2
    reader_src = src(R, stamped=False)
    assert not [m for m in plan([reader_src], []).mutations if m.op == Op.STAMP]
    legacy_cal = CalendarRef(1, "a@x", "owner", "a@x", EngineMode.LEGACY)
    assert not [m for m in plan([src(legacy_cal, stamped=False)], []).mutations if m.op == Op.STAMP]


def test_legacy_blocks_link_cascades_and_orphans() -> None:
    s = src()
    start_key = "2030-01-10T08:00:00+00:00"
    end_key = "2030-01-10T09:00:00+00:00"
    linked = BlockItem(
        B,
        "L1",
        None,
        None,
        legacy=True,
        legacy_suffix="Dentist",
        start_key=start_key,
        end_key=end_key,
    )
    assert plan([s], [linked]).mutations == []
    dup = BlockItem(
        B,
        "L2",
        None,
        None,
        legacy=True,
        legacy_suffix="Dentist",
        start_key=start_key,
        end_key=end_key,
    )
    assert [(str(m.op), m.google_event_id) for m in plan([s], [linked, dup]).mutations] == [
        ("delete", "L2")
    ]
    cascade = BlockItem(
        B, "C1", None, None, legacy=True, legacy_suffix="🔒 Busy - Dentist", cascade=True
    )
    p = plan([s], [linked, cascade])
    assert [(str(m.op), m.google_event_id, m.reason[:7]) for m in p.mutations] == [
        ("delete", "C1", "cascade")
    ]
    moved = BlockItem(
        B, "L3", None, None, legacy=True, legacy_suffix="Dentist", start_key="x", end_key="y"
    )
    assert sorted(ops(plan([s], [moved]))) == [("delete", "b@x"), ("insert", "b@x")]


def test_unavailable_calendar_gets_nothing_but_its_sources_stay_live() -> None:
    s = src()
    blk = our_block(s, B)
    assert plan([s], [blk], unavailable=frozenset({"a@x"})).mutations == []
    assert (
        plan([src(stamped=False)], [], unavailable=frozenset({"b@x"})).mutations[0].op == Op.STAMP
    )


def test_plan_id_is_stable_and_round_trips() -> None:
    p1 = plan([src(), src(R, cid="99999999-9999-4999-8999-999999999999")], [])
    p2 = plan([src(R, cid="99999999-9999-4999-8999-999999999999"), src()], [])
    assert p1.plan_id == p2.plan_id and len(p1) == 3
    back = Plan.from_json(json.loads(json.dumps(p1.to_json())))
    assert back == p1
    assert p1.totals == {"a@x": {"insert": 1}, "b@x": {"insert": 2}}
    assert plan([src(summary="Other")], []).plan_id != plan([src()], []).plan_id


def test_stamped_legacy_titled_block_keeps_its_title_until_cutover() -> None:
    s = src()
    hybrid_b = CalendarRef(2, "b@x", "writer", "b@x", EngineMode.HYBRID)
    start_key, end_key = "2030-01-10T08:00:00+00:00", "2030-01-10T09:00:00+00:00"
    blk = BlockItem(
        hybrid_b,
        "legacy1",
        "abababab-abab-4bab-8bab-abababababab",
        s.correlation_id,
        digest="old-system-content",
        legacy_title=True,
        start_key=start_key,
        end_key=end_key,
    )
    cals = [A, hybrid_b]
    p = build_plan(cals, [s], [blk], installation_id=ME, settings=S)
    assert p.mutations == []  # same times: nothing to write during rollout
    moved = src(
        start={"dateTime": "2030-01-10T11:00:00+01:00"},
        end={"dateTime": "2030-01-10T12:00:00+01:00"},
    )
    p2 = build_plan(cals, [moved], [blk], installation_id=ME, settings=S)
    assert [(str(m.op), m.google_event_id) for m in p2.mutations] == [("patch", "legacy1")]
    assert set(p2.mutations[0].body or {}) == {"start", "end", "status"}
    uuid_b = CalendarRef(2, "b@x", "writer", "b@x", EngineMode.UUID)
    blk_u = BlockItem(
        uuid_b, "legacy1", blk.correlation_id, s.correlation_id, digest="x", legacy_title=True
    )
    p3 = build_plan([A, uuid_b], [s], [blk_u], installation_id=ME, settings=S)
    assert p3.mutations[0].body is not None and p3.mutations[0].body["summary"] == "Busy - Dentist"
