"""Issue 15: a guard against mass deletion. A listing that suddenly lacks most of a
calendar's sources (over half and more than 10), or a full listing that comes back
empty where there were events, deletes no block: it raises an alert and waits for the
user (`sync --confirm-deletions`, `guard.confirm_deletions` for the console)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import select

from calsync_tui import clock
from calsync_tui.engine import guard
from local_store.models import Alert
from tests.engine.test_crash_and_cli import cli
from tests.engine.world import World, iter_blocks, when


def _world(world: World, n: int) -> tuple[str, str, list[str]]:
    world.user("ann@x.test")
    work = world.calendar("ann@x.test", "Work")
    home = world.calendar("ann@x.test", "Home")
    ids = []
    for i in range(n):
        s, e = when(1 + i % 20, hours=8 + i % 9)
        ids.append(str(world.put(work, f"Meeting {i}", start=s, end=e)["id"]))
    world.enable(work, home)
    world.sync()
    world.sync()
    assert len(list(iter_blocks(world.truth()[home]))) == n
    return work, home, ids


def _alerts(world: World) -> list[Alert]:
    with world.ctx.store.session() as s:
        return list(s.exec(select(Alert).order_by(Alert.id)).all())  # type: ignore[arg-type]


def test_most_sources_gone_holds_their_blocks_until_confirmed(world: World) -> None:
    work, home, ids = _world(world, 20)
    for gid in ids[:15]:
        world.sandbox.delete_event(work, gid)
    report = world.sync()
    assert report.mutations.get("delete", 0) == 0
    assert list(report.held) == [work]
    assert "15 of 20" in report.held[work] and "--confirm-deletions" in report.held[work]
    assert len(list(iter_blocks(world.truth()[home]))) == 20
    held = [a for a in _alerts(world) if a.kind == guard.HELD]
    assert len(held) == 1 and not held[0].acknowledged
    # it keeps waiting, with one alert, cycle after cycle (the changes are not lost)
    again = world.sync()
    assert list(again.held) == [work] and again.mutations.get("delete", 0) == 0
    assert len([a for a in _alerts(world) if a.kind == guard.HELD]) == 1
    assert guard.held(world.ctx.store)[0][0] == held[0].calendar_id
    # the console's call: confirm; the next cycle lets the deletions through
    assert guard.confirm_deletions(world.ctx.store) == 1
    done = world.sync()
    assert not done.held
    assert done.mutations.get("delete", 0) == 15
    assert len(list(iter_blocks(world.truth()[home]))) == 5
    kinds = [a.kind for a in _alerts(world) if a.kind.startswith("mass_deletion")]
    assert kinds == [guard.APPLIED]
    assert not world.sync().held
    world.assert_ok()


def test_ordinary_deletions_go_through(world: World) -> None:
    work, _home, ids = _world(world, 20)
    for gid in ids[:10]:  # half, not over half
        world.sandbox.delete_event(work, gid)
    report = world.sync()
    assert not report.held
    assert report.mutations.get("delete", 0) == 10
    world.assert_ok()


def test_few_sources_all_gone_go_through(world: World) -> None:
    work, _home, ids = _world(world, 8)
    for gid in ids:  # all of them, but not more than 10
        world.sandbox.delete_event(work, gid)
    report = world.sync()
    assert not report.held
    assert report.mutations.get("delete", 0) == 8
    world.assert_ok()


def test_an_empty_full_listing_deletes_nothing(world: World) -> None:
    work, home, ids = _world(world, 5)
    for gid in ids:
        world.sandbox.delete_event(work, gid)
    world.sandbox.expire_sync_tokens(work)  # the next listing of Work is a full one
    report = world.sync()
    assert list(report.held) == [work]
    assert report.mutations.get("delete", 0) == 0
    assert len(list(iter_blocks(world.truth()[home]))) == 5
    assert world.sync().held  # still waiting


def test_sync_confirm_deletions_on_the_cli(world: World) -> None:
    work, home, ids = _world(world, 20)
    for gid in ids[:15]:
        world.sandbox.delete_event(work, gid)
    world.ctx.close()
    held = cli(world, "sync", "--once")
    assert held.returncode == 1
    assert "held:" in held.stderr and "--confirm-deletions" in held.stderr
    assert len(list(iter_blocks(world.truth()[home]))) == 20
    ok = cli(world, "sync", "--once", "--confirm-deletions")
    assert ok.returncode == 0, ok.stderr
    assert len(list(iter_blocks(world.truth()[home]))) == 5


def test_one_deleted_series_is_one_deletion(world: World) -> None:
    """A person deleting one weekly series takes all its instances in the window at once:
    one deletion, not a mass deletion (found by the life simulation)."""
    work, home, _ids = _world(world, 3)
    s, e = when(1, hours=18, tz="UTC")
    series = world.put(work, "Weekly", start=s, end=e, recurrence=["RRULE:FREQ=WEEKLY"])
    world.sync()
    world.sync()
    assert len(list(iter_blocks(world.truth()[home]))) > 12
    world.sandbox.delete_event(work, str(series["id"]))
    report = world.sync()
    assert not report.held
    assert report.mutations.get("delete", 0) > 10
    assert len(list(iter_blocks(world.truth()[home]))) == 3


@pytest.fixture
def _moved_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


@pytest.mark.usefixtures("_moved_clock")
@pytest.mark.parametrize("new_events", [3, 0])
def test_a_full_listing_after_410_is_no_deletion_of_history(world: World, new_events: int) -> None:
    """Found by the life simulation (seed 3, 120 days: every cycle from day 105 on held,
    blocks missing from then on). Purging the trash invalidates sync tokens (410), and
    the full listing over the window lacks every source the window has left behind:
    that is history, not a deletion (their blocks stay), and no reason to hold the
    calendar, whether the listing holds new events or none at all."""
    work, home, _ids = _world(world, 20)
    clock.advance(timedelta(days=world.settings.window_days_back + 25))  # all behind
    base = clock.now().replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    for i in range(new_events):
        start = base + timedelta(days=i)
        world.put(
            work,
            f"Later {i}",
            start={"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ")},
            end={"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")},
        )
    world.sandbox.expire_sync_tokens(work)  # the next listing of Work is a full one
    report = world.sync()
    assert not report.held, report.held
    assert report.mutations.get("delete", 0) == 0
    assert report.mutations.get("insert", 0) == new_events
    assert len(list(iter_blocks(world.sandbox.events(home)))) == 20 + new_events
    assert not world.sync().held
    assert not [a for a in _alerts(world) if a.kind == guard.HELD]
