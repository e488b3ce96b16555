"""Mirroring rules end to end: real gateway over HTTP to the sandbox, real SQLite."""

from __future__ import annotations

from tests.engine.world import World, iter_blocks, when


def two_calendars(world: World) -> tuple[str, str]:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "Work", cal_id="ann@example.com")
    b = world.calendar("ann@example.com", "Personal")
    world.enable(a, b)
    return a, b


def test_first_sync_mirrors_and_second_is_idle(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    world.put(b, "Gym", start=when(2)[0], end=when(2)[1])
    r1 = world.sync()
    assert r1.failed == 0, r1.errors
    assert r1.mutations.get("insert") == 2 and r1.mutations.get("stamp") == 2
    world.assert_ok()
    blocks = list(iter_blocks(world.truth()[b]))
    assert [e["summary"] for e in blocks] == ["Busy - Dentist"]
    world.sync()  # our own writes come back once
    world.sandbox.reset_stats()
    r3 = world.sync()
    stats = world.sandbox.stats()
    assert r3.mutations == {} and r3.planned == {}
    assert stats["by_method"] == {"calendar.events.list": 2}, stats
    assert r3.api_calls == 2
    world.assert_ok()


def _settle(world: World) -> None:
    """Sync until a cycle writes nothing (our own writes come back in the next listing)."""
    for _ in range(4):
        r = world.sync()
        assert r.failed == 0, r.errors
        if not r.planned:
            return
    raise AssertionError(f"no convergence: {r.planned}")


def test_source_changes_flow_to_blocks_with_minimal_calls(world: World) -> None:
    a, b = two_calendars(world)
    src = world.put(a, "Dentist")
    _settle(world)
    # moved + retitled: one list per calendar + one batch with one patch
    s2, e2 = when(3, hours=14)
    world.sandbox.patch_event(a, src["id"], {"start": s2, "end": e2, "summary": "Dentist (moved)"})
    world.sandbox.reset_stats()
    r = world.sync()
    stats = world.sandbox.stats()
    assert r.mutations == {"patch": 1}
    assert stats["by_method"] == {"calendar.events.list": 2, "calendar.events.patch": 1}, stats
    assert stats["round_trips"] == 3
    assert r.latency_ms is not None and r.latency_ms >= 0
    (blk,) = world.blocks_on(b)
    assert blk["summary"] == "Busy - Dentist (moved)" and blk["start"]["dateTime"].startswith(
        s2["dateTime"][:16]
    )
    world.assert_ok()
    # declined by the owner, then made free, then deleted: the block goes each time
    _settle(world)
    world.sandbox.patch_event(
        a, src["id"], {"attendees": [{"email": a, "responseStatus": "declined"}]}
    )
    world.sync()
    assert world.blocks_on(b) == []
    world.assert_ok()
    world.sandbox.patch_event(
        a, src["id"], {"attendees": [{"email": a, "responseStatus": "accepted"}]}
    )
    world.sync()
    assert len(world.blocks_on(b)) == 1
    world.sandbox.patch_event(a, src["id"], {"transparency": "transparent"})
    world.sync()
    assert world.blocks_on(b) == []
    world.sandbox.patch_event(a, src["id"], {"transparency": "opaque"})
    world.sync()
    assert len(world.blocks_on(b)) == 1
    world.sandbox.delete_event(a, src["id"])
    world.sync()
    assert world.blocks_on(b) == []
    _settle(world)
    world.assert_ok()


def test_block_deleted_or_edited_by_hand_is_restored(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    (blk,) = world.blocks_on(b)
    world.sandbox.patch_event(b, blk["id"], {"summary": "hacked", "transparency": "transparent"})
    r = world.sync()
    assert r.mutations == {"patch": 1}
    (again,) = world.blocks_on(b)
    assert again["summary"] == "Busy - Dentist" and again.get("transparency", "opaque") == "opaque"
    world.sandbox.delete_event(b, blk["id"])
    r = world.sync()
    assert r.mutations == {"insert": 1}, r.to_json()
    (restored,) = world.blocks_on(b)
    assert restored["id"] == blk["id"]  # deterministic id, revived
    _settle(world)
    world.assert_ok()


def test_respect_manual_deletion(world: World) -> None:
    world.settings.respect_manual_deletion = True
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    (blk,) = world.blocks_on(b)
    world.sandbox.delete_event(b, blk["id"])
    r = world.sync()
    assert r.planned == {}
    assert world.blocks_on(b) == []


def test_multi_account_and_reader_calendar(world: World) -> None:
    ann = world.user("ann@example.com")
    bob = world.user("bob@example.com")
    a = world.calendar(ann, "Ann work", cal_id=ann)
    b = world.calendar(bob, "Bob side", cal_id=bob)
    shared = world.calendar("boss@example.com", "Team (read only)")
    world.sandbox.add_user("boss@example.com", "tok-boss")
    world.sandbox.share(shared, ann, "reader")
    world.enable(a, b, shared)
    world.put(a, "A1")
    world.put(b, "B1", start=when(2)[0], end=when(2)[1])
    world.put(shared, "Team sync", start=when(3)[0], end=when(3)[1])
    _settle(world)
    truth = world.truth()
    assert sorted(e["summary"] for e in iter_blocks(truth[a])) == ["Busy - B1", "Busy - Team sync"]
    assert sorted(e["summary"] for e in iter_blocks(truth[b])) == ["Busy - A1", "Busy - Team sync"]
    assert list(iter_blocks(truth[shared])) == []
    world.assert_ok()


def test_ignored_event_types_and_free_events(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "OOO", eventType="outOfOffice")
    world.put(a, "Focus", eventType="focusTime")
    world.put(a, "Free", transparency="transparent")
    world.put(a, "Real")
    _settle(world)
    assert [e["summary"] for e in world.blocks_on(b)] == ["Busy - Real"]
    world.assert_ok()


def test_all_day_across_time_zones(world: World) -> None:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "Tokyo", tz="Asia/Tokyo", cal_id="ann@example.com")
    b = world.calendar("ann@example.com", "LA", tz="America/Los_Angeles")
    world.enable(a, b)
    from datetime import UTC, datetime, timedelta

    day = (datetime.now(UTC) + timedelta(days=5)).date()
    world.put(
        a,
        "Holiday",
        start={"date": day.isoformat()},
        end={"date": (day + timedelta(days=1)).isoformat()},
    )
    s, e = when(6, hours=1, tz="Asia/Tokyo")
    world.put(a, "Call", start=s, end=e)
    _settle(world)
    blocks = {x["summary"]: x for x in world.blocks_on(b)}
    assert blocks["Busy - Holiday"]["start"] == {"date": day.isoformat()}
    assert blocks["Busy - Holiday"]["end"] == {"date": (day + timedelta(days=1)).isoformat()}
    assert blocks["Busy - Call"]["start"].get("timeZone") == "Asia/Tokyo"
    world.assert_ok()


def test_recurring_with_exception_and_cancelled_instance(world: World) -> None:
    a, b = two_calendars(world)
    s, e = when(1, hours=9, tz="Europe/Paris")
    master = world.put(a, "Standup", start=s, end=e, recurrence=["RRULE:FREQ=DAILY;COUNT=5"])
    instances = world.sandbox.events(a, single_events=True)
    assert len(instances) == 5
    moved_start, moved_end = when(2, hours=15, tz="Europe/Paris")
    world.sandbox.patch_event(a, instances[1]["id"], {"start": moved_start, "end": moved_end})
    world.sandbox.delete_event(a, instances[2]["id"])
    r = world.sync()
    assert r.failed == 0, r.errors
    assert r.mutations.get("stamp") == 1  # the series master, once
    raw = next(x for x in world.sandbox.events(a) if x["id"] == master["id"])
    assert raw["extendedProperties"]["private"]["calsync_type"] == "user_event"
    _settle(world)
    blocks = world.blocks_on(b)
    assert len(blocks) == 4
    assert any(
        x["start"]["dateTime"].startswith(moved_start["dateTime"][:13]) for x in blocks
    ) or any("15:00" in x["start"]["dateTime"] for x in blocks)
    world.assert_ok()
    # cancel one more instance after the fact: its block goes
    world.sandbox.delete_event(a, instances[3]["id"])
    world.sync()
    assert len(world.blocks_on(b)) == 3
    # the whole series deleted: all blocks go
    world.sandbox.delete_event(a, master["id"])
    world.sync()
    assert world.blocks_on(b) == []
    _settle(world)
    world.assert_ok()


def test_event_moved_between_calendars_keeps_its_identity(world: World) -> None:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "A", cal_id="ann@example.com")
    b = world.calendar("ann@example.com", "B")
    c = world.calendar("ann@example.com", "C")
    world.enable(a, b, c)
    src = world.put(a, "Dentist")
    _settle(world)
    cid = src_cid = None
    for e in world.sandbox.events(a):
        if e["id"] == src["id"]:
            src_cid = e["extendedProperties"]["private"]["calsync_id"]
    assert src_cid
    on_c_before = {e["id"] for e in world.blocks_on(c)}
    world.sandbox.world.move_event(a, src["id"], b, None)
    r = world.sync()
    assert r.failed == 0 and r.classes.get("error", 0) == 0
    # same source id: the block on c is kept; the one on b (now its own calendar) goes,
    # a new one appears on a
    assert {e["id"] for e in world.blocks_on(c)} == on_c_before
    assert world.blocks_on(b) == []
    (on_a,) = world.blocks_on(a)
    cid = on_a["extendedProperties"]["private"]["calsync_source"]
    assert cid == src_cid
    _settle(world)
    world.assert_ok()


def test_copy_of_a_stamped_event_becomes_its_own_source(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    original = next(e for e in world.sandbox.events(a) if e["summary"] == "Dentist")
    copy = world.put(
        a,
        "Dentist (copy)",
        start=when(5)[0],
        end=when(5)[1],
        extendedProperties=original["extendedProperties"],
    )
    r = world.sync()
    assert r.mutations == {"stamp": 1, "insert": 1}, r.to_json()
    restamped = next(e for e in world.sandbox.events(a) if e["id"] == copy["id"])
    assert (
        restamped["extendedProperties"]["private"]["calsync_id"]
        != original["extendedProperties"]["private"]["calsync_id"]
    )
    _settle(world)
    world.assert_ok()
    assert sorted(e["summary"] for e in world.blocks_on(b)) == [
        "Busy - Dentist",
        "Busy - Dentist (copy)",
    ]
