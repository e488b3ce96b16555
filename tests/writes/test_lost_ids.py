"""Lost ids against the strict sandbox: a block deleted by the person (not revivable) or
purged from the trash (unreadable, id still taken) comes back under the next generation
of its id, once; a block deleted through the API is revived under its own id."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from calsync_tui.engine.model import google_event_id_for
from calsync_tui.writes.ids import generation_of
from local_store.models import EventState, Mutation
from tests.engine.test_scenarios import _settle, two_calendars
from tests.engine.world import World
from tests.migration.conftest import Mess


def _block(world: World, cal: str) -> dict[str, object]:
    (blk,) = world.blocks_on(cal)
    return blk


def _journal(world: World) -> list[Mutation]:
    with world.ctx.store.session() as s:
        return list(s.exec(select(Mutation).order_by(Mutation.id)))  # type: ignore[arg-type]


def _state(world: World, event_id: str) -> EventState:
    with world.ctx.store.session() as s:
        row = s.exec(select(EventState).where(EventState.google_event_id == event_id)).one()
        s.expunge(row)
        return row


def test_block_deleted_by_the_person_comes_back_under_generation_one(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    first = str(_block(world, b)["id"])
    assert generation_of(first) == 0
    world.sandbox.delete_as_person(b, first)
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    now = str(_block(world, b)["id"])
    assert now == first + "g1"  # the next generation of the same correlation id
    row = _state(world, now)
    assert row.generation == 1 and row.status in ("created", "synced")
    statuses = [(m.op, m.status, m.google_event_id) for m in _journal(world)][-2:]
    assert statuses == [("insert", "replaced", first), ("insert", "done", now)]
    _settle(world)  # and it stays: no write planned again, invariants hold
    world.assert_ok()
    assert len(world.blocks_on(b)) == 1


def test_purged_block_gets_a_new_id_and_a_second_loss_the_next(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    first = str(_block(world, b)["id"])
    world.sandbox.delete_event(b, first)
    world.sandbox.purge_trash(b)  # get answers 404, insert still 409
    _settle(world)  # (the purge expires the sync token: a full listing first)
    second = str(_block(world, b)["id"])
    assert second == first + "g1"
    world.sandbox.delete_as_person(b, second)
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    third = str(_block(world, b)["id"])
    assert third == first + "g2" and _state(world, third).generation == 2
    _settle(world)
    world.assert_ok()
    cid = _state(world, third).correlation_id
    assert google_event_id_for(cid, 2) == third  # one id function, with a generation


def test_block_deleted_through_the_api_is_revived_under_its_own_id(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    first = str(_block(world, b)["id"])
    world.sandbox.delete_event(b, first)  # revivable: one patch to status confirmed
    world.sandbox.reset_stats()
    r = world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    assert str(_block(world, b)["id"]) == first
    assert world.sandbox.stats()["writes"] == 1  # the insert's 409 is no write; the revive is
    world.assert_ok()


def test_rollback_level_2_recreates_purged_events_under_a_new_id(
    mess: Mess, tmp_path: Path
) -> None:
    """The backfill deleted a cascade, an orphan and a duplicate; the trash was emptied
    since. Their ids can never be used again: the dry run says which come back under a
    new id, and the rollback re-creates them so, as people saw them."""
    m = mess
    pre = m.google()
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan))
    assert m.cli_json("migrate", "backfill", "--plan", str(plan), "--yes")["gate"]["passed"]
    purged = set(m.sandbox.purge_trash(m.b))
    deleted = {m.ids["b_cascade"], m.ids["b_orphan"]}
    assert deleted <= purged
    m.sandbox.reset_stats()
    preview = m.cli_json("migrate", "rollback", "--level", "2", "--dry-run")
    assert m.sandbox.stats()["writes"] == 0 and preview["conflicts"] == []
    renewed = {s["journal_rows"][0]: s["new_id"] for s in preview["steps"] if s["new_id"]}
    assert len(renewed) == len(purged) and "new id" in preview["summary"]
    rb = m.cli_json("migrate", "rollback", "--level", "2", "--yes")
    assert rb["complete"] and rb["journal"]["failed"] == 0, rb
    now = m.google()

    def seen(events: list[dict[str, object]]) -> list[tuple[object, ...]]:
        keep = ("summary", "start", "end", "transparency", "description")
        return sorted(tuple(str(e.get(k)) for k in keep) for e in events)

    assert seen(now[m.b]) == seen(pre[m.b])  # as people see them
    ids_now = {str(e["id"]) for e in now[m.b]}
    assert not purged & ids_now and set(renewed.values()) <= ids_now
    assert {c: seen(v) for c, v in now.items()} == {c: seen(v) for c, v in pre.items()}


@pytest.mark.parametrize("generation", [1, 2])
def test_a_later_generation_deleted_by_hand_is_respected(world: World, generation: int) -> None:
    """`respect_manual_deletion`: a block re-created under generation 1 or 2 (its earlier
    ids lost) and then deleted by hand stays deleted, like a generation-0 block: nothing
    is planned, full cycle or scoped, and no generation after it is used."""
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    first = str(_block(world, b)["id"])
    for n in range(1, generation + 1):  # lose the id `generation` times
        world.sandbox.delete_as_person(b, str(_block(world, b)["id"]))
        _settle(world)
        assert str(_block(world, b)["id"]) == f"{first}g{n}"
    world.settings.respect_manual_deletion = True
    world.sync()  # the setting changed: a full cycle
    world.sandbox.delete_as_person(b, f"{first}g{generation}")
    r = world.sync()
    assert r.planned == {} and r.failed == 0 and not r.errors, r.to_json()
    assert world.blocks_on(b) == []
    assert world.sync().planned == {}  # and the next cycle too
    assert world.blocks_on(b) == []
    ids = {m.google_event_id for m in _journal(world) if m.op == "insert"}
    assert f"{first}g{generation + 1}" not in ids
    # turned off again, the block comes back (under the next generation: ids are lost)
    world.settings.respect_manual_deletion = False
    _settle(world)
    assert str(_block(world, b)["id"]) == f"{first}g{generation + 1}"
    world.assert_ok()
