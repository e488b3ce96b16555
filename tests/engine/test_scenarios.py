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
