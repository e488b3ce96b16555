"""Issue 15, the read side: the window slides (events entering it get their blocks within
a cycle, at most one extra listing per calendar per day), raising `window_days_ahead`
takes effect at once, events leaving it keep their blocks, and far-ahead instances of a
changed series are not stored. Time is moved with `calsync_tui.clock`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlmodel import select

from calsync_tui import clock
from calsync_tui.engine.calendar_ref import CalendarRef
from calsync_tui.engine.classify import ClassifyContext, classify_page
from calsync_tui.engine.model import EngineMode, EventClass
from calsync_tui.engine.persist import RowSet
from calsync_tui.engine.window import MARGIN, Cursor, Window
from local_store.models import Calendar, EventState
from tests.engine.world import World, iter_blocks, when

_CAL = Calendar.__table__  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _wall_clock() -> Iterator[None]:
    clock.reset()
    yield
    clock.reset()


def _lists(world: World) -> int:
    return int(world.sandbox.stats()["by_method"].get("calendar.events.list", 0))


def _set_mode(world: World, mode: EngineMode) -> None:
    with world.ctx.store.engine.begin() as conn:
        conn.execute(update(_CAL).values(engine_mode=str(mode)))


def _blocks_for(world: World, cal: str, title: str) -> list[dict[str, object]]:
    """Blocks on `cal` (read back without a window) titled from `title`."""
    events = world.sandbox.events(cal, single_events=True)
    return [e for e in iter_blocks(events) if title in str(e.get("summary"))]


def _setup(world: World) -> tuple[str, str, str]:
    """Every calendar kind: ann owns Work, writes to bob's Shared, reads bob's Team
    (bob is not an account of ours)."""
    world.user("ann@x.test")
    world.sandbox.add_user("bob@x.test", "tok-bob-not-ours")  # not an account of ours
    work = world.calendar("ann@x.test", "Work")
    shared = world.calendar("bob@x.test", "Shared")  # ann writes to it
    team = world.calendar("bob@x.test", "Team")  # ann reads it
    world.sandbox.share(shared, "ann@x.test", "writer")
    world.sandbox.share(team, "ann@x.test", "reader")
    world.enable(work, shared, team)
    return work, shared, team


@pytest.mark.parametrize("mode", [EngineMode.UUID, EngineMode.HYBRID, EngineMode.LEGACY])
def test_events_entering_the_window_get_blocks_within_a_cycle(
    world: World, mode: EngineMode
) -> None:
    work, shared, team = _setup(world)
    ahead = world.settings.window_days_ahead
    # beyond the window at set-up: a one-off on each calendar and a weekly series on the
    # reader calendar whose later instances come in week by week
    for cal, name in ((work, "Offsite"), (shared, "Review"), (team, "Planning")):
        s, e = when(ahead + 3)
        world.put(cal, name, start=s, end=e)
    s, e = when(ahead - 20, tz="UTC")
    world.put(team, "Weekly sync", start=s, end=e, recurrence=["RRULE:FREQ=WEEKLY"])
    world.sync()
    _set_mode(world, mode)
    world.sync()
    assert not _blocks_for(world, team, "Offsite")
    series_before = len(_blocks_for(world, work, "Weekly sync"))
    assert series_before >= 2
    lists0 = _lists(world)
    cycles = 0
    for _day in range(5):  # five simulated days, a cycle every six hours
        for _ in range(4):
            clock.advance(timedelta(hours=6))
            report = world.sync()
            cycles += 1
            assert report.failed == 0 and not report.errors, report.errors
            assert report.slices <= 3
    extra = _lists(world) - lists0 - cycles * 3
    assert extra <= 5 * 3, f"{extra} extra listings in 5 days over 3 calendars"
    # all three one-offs entered the window (day ahead+3 is inside after 5 days)
    assert len(_blocks_for(world, shared, "Offsite")) == 1
    assert len(_blocks_for(world, team, "Offsite")) == 0  # reader: no blocks on it
    assert len(_blocks_for(world, work, "Review")) == 1
    assert len(_blocks_for(world, work, "Planning")) == 1
    assert len(_blocks_for(world, shared, "Planning")) == 1
    # the weekly series' instances that came in got blocks too
    assert len(_blocks_for(world, work, "Weekly sync")) > series_before
    world.assert_ok()


def test_an_event_gets_its_block_the_cycle_it_enters(world: World) -> None:
    work, shared, _team = _setup(world)
    ahead = world.settings.window_days_ahead
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=ahead, hours=5)
    s = {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    e = {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    world.put(work, "Just outside", start=s, end=e)
    world.sync()
    world.sync()
    clock.advance(timedelta(hours=4))
    world.sync()
    assert not _blocks_for(world, shared, "Just outside")  # not in the window yet
    clock.advance(timedelta(hours=1, minutes=30))  # now it is
    world.sync()
    assert len(_blocks_for(world, shared, "Just outside")) == 1


def test_raising_window_days_ahead_takes_effect_at_the_next_cycle(world: World) -> None:
    work, shared, _team = _setup(world)
    s, e = when(world.settings.window_days_ahead + 30)
    world.put(work, "Far away", start=s, end=e)
    world.sync()
    world.sync()
    assert not _blocks_for(world, shared, "Far away")
    world.settings.window_days_ahead += 40
    report = world.sync()
    assert report.slices == 3  # one slice per calendar, listed at once
    assert len(_blocks_for(world, shared, "Far away")) == 1
    world.assert_ok()


def test_events_leaving_the_window_keep_their_blocks(world: World) -> None:
    work, shared, _team = _setup(world)
    s, e = when(1)
    world.put(work, "Yesterday's news", start=s, end=e)
    world.sync()
    world.sync()
    assert len(_blocks_for(world, shared, "Yesterday's news")) == 1
    clock.advance(timedelta(days=world.settings.window_days_back + 3))
    report = world.sync()
    assert report.mutations.get("delete", 0) == 0
    # a full listing (410) does not see the old event either: still no deletion
    world.sandbox.expire_sync_tokens()
    report = world.sync()
    assert report.mutations.get("delete", 0) == 0, report.plan
    assert len(_blocks_for(world, shared, "Yesterday's news")) == 1
    world.assert_ok()


def test_a_store_from_before_cursors_lists_the_window_once(world: World) -> None:
    """A bare sync token (stored before read cursors) is kept and the window listed once
    beside it; the cursor is written from then on."""
    work, _shared, _team = _setup(world)
    world.sync()
    with world.ctx.store.engine.begin() as conn:
        for cal_id, raw in conn.execute(
            _CAL.select().with_only_columns(_CAL.c.id, _CAL.c.sync_token)
        ):
            if raw:
                bare = Cursor.decode(raw).sync_token
                conn.execute(update(_CAL).where(_CAL.c.id == cal_id).values(sync_token=bare))
    assert world.sync().slices == 3
    assert world.sync().slices == 0
    del work


# --- far-ahead instances ------------------------------------------------------------------


def _instances(n: int, start: datetime) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i in range(n):
        t = start + timedelta(weeks=i)
        out.append(
            {
                "id": f"series1_{t.strftime('%Y%m%dT%H%M%SZ')}",
                "status": "confirmed",
                "summary": "Weekly",
                "recurringEventId": "series1",
                "iCalUID": "series1@x",
                "originalStartTime": {"dateTime": t.strftime("%Y-%m-%dT%H:%M:%SZ")},
                "start": {"dateTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "UTC"},
                "end": {
                    "dateTime": (t + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "timeZone": "UTC",
                },
            }
        )
    return out


def test_far_ahead_instances_are_not_stored() -> None:
    """A changed series listed for 730 weeks ahead keeps rows only up to the horizon;
    instances already stored are updated wherever they moved."""
    now = datetime(2026, 12, 1, 9, tzinfo=UTC)
    window = Window(now - timedelta(days=7), now + timedelta(days=90))
    cal = CalendarRef(1, "a@x", "owner", "a@x")
    ctx = ClassifyContext(
        installation_id="i",
        calendar_google_id="a@x",
        window_start=window.start,
        window_end=window.end,
    )
    events = _instances(730, now - timedelta(days=3))
    rows = RowSet({}, {})
    rows.apply_listing(cal, classify_page(events, ctx), now, (window.start, window.horizon))
    kept = len(rows.rows)
    assert kept == len(
        [
            e
            for e in events
            if str(e["start"]["dateTime"]) < window.horizon.strftime("%Y-%m-%dT%H:%M:%SZ")
        ]  # type: ignore[index]
    )
    assert 12 <= kept <= 15
    classes = {r["event_class"] for r in rows.rows.values()}
    assert classes <= {str(EventClass.NEW_USER_EVENT), str(EventClass.IGNORED)}
    # a stored instance moved far ahead is still updated (then outside the window)
    first = events[0]
    key = (1, str(first["id"]))
    moved = dict(first)
    far = now + timedelta(days=400)
    moved["start"] = {"dateTime": far.strftime("%Y-%m-%dT%H:%M:%SZ")}
    moved["end"] = {"dateTime": (far + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    rows.apply_listing(cal, classify_page([moved], ctx), now, (window.start, window.horizon))
    assert rows.rows[key]["event_class"] == str(EventClass.IGNORED)
    assert rows.rows[key]["start"].startswith(str(far.year))
    assert timedelta(days=1) == MARGIN


def test_store_holds_no_rows_far_ahead(world: World) -> None:
    """Whatever Google answers, EventState holds no row starting beyond the horizon."""
    work, _shared, _team = _setup(world)
    s, e = when(2, tz="UTC")
    for i in range(5):
        world.put(work, f"Series {i}", start=s, end=e, recurrence=["RRULE:FREQ=WEEKLY"])
    world.sync()
    world.sync()  # stamps the masters; the sandbox may answer with far-ahead instances
    world.sync()
    horizon = datetime.now(UTC) + timedelta(days=world.settings.window_days_ahead) + MARGIN
    with world.ctx.store.session() as session:
        starts = [r.start_utc for r in session.exec(select(EventState)).all() if r.start_utc]
    assert starts and max(s.replace(tzinfo=UTC) for s in starts) < horizon + timedelta(hours=1)


def test_an_event_beyond_the_window_deleted_during_a_410_gets_no_block(world: World) -> None:
    """An event moved beyond the listings' reach, then deleted while its deletion could
    not be reported (the sync token expired: 410, and the full listing covers the window
    only): when the window reaches its old time, the slice listing of the newly entered
    days lacks it, so it is gone; no block is made for it."""
    work, shared, _team = _setup(world)
    s, e = when(3)
    ev = world.put(work, "Moved away", start=s, end=e)
    world.sync()
    world.sync()
    assert len(_blocks_for(world, shared, "Moved away")) == 1
    far = world.settings.window_days_ahead + 20
    s, e = when(far)
    world.sandbox.patch_event(work, str(ev["id"]), {"start": s, "end": e})
    world.sync()
    world.sync()
    world.sandbox.delete_event(work, str(ev["id"]))
    world.sandbox.expire_sync_tokens()
    world.sync()  # full listings over the window: the deletion is out of their reach
    for _ in range(25):  # the window slides over the event's old time
        clock.advance(timedelta(days=1))
        report = world.sync()
        assert report.failed == 0 and not report.errors, report.errors
    assert _blocks_for(world, shared, "Moved away") == []
    world.assert_ok()


def test_an_all_day_event_leaving_the_window_in_a_zone_east_of_utc_keeps_its_block(
    world: World,
) -> None:
    """Google compares an all-day event with timeMin/timeMax at midnight in the
    calendar's zone. In Asia/Tokyo an all-day event on day D ends at D+1 00:00 JST =
    D 15:00 UTC: once the window's start passes that, a full listing lacks it. Read at
    UTC midnight it would still be inside the listing's span, so its absence would read
    as a deletion and its block would go; it is history and keeps its block."""
    world.user("ann@x.test")
    work = world.calendar("ann@x.test", "Work", tz="Asia/Tokyo")
    side = world.calendar("ann@x.test", "Side", tz="Asia/Tokyo")
    world.enable(work, side)
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day = (base + timedelta(days=2)).date()
    clock.set_now(base + timedelta(hours=12))
    ev = world.put(
        work,
        "Offsite",
        start={"date": day.isoformat()},
        end={"date": (day + timedelta(days=1)).isoformat()},
    )
    world.put(
        work,
        "Planning",
        start={"date": (day + timedelta(days=9)).isoformat()},
        end={"date": (day + timedelta(days=10)).isoformat()},
    )  # stays in the window
    world.sync()
    world.sync()
    assert len(_blocks_for(world, side, "Offsite")) == 1
    # the window's start lands between the event's end in Tokyo and its UTC midnight
    back = timedelta(days=world.settings.window_days_back)
    clock.set_now(
        datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=20) + back
    )
    world.sandbox.expire_sync_tokens()  # a full listing over the window
    report = world.sync()
    assert report.failed == 0 and not report.errors, report.errors
    assert report.mutations.get("delete", 0) == 0, report.plan
    assert len(_blocks_for(world, side, "Offsite")) == 1
    with world.ctx.store.session() as s:
        row = s.exec(select(EventState).where(EventState.google_event_id == ev["id"])).one()
        assert row.status != "deleted", row.error
    world.assert_ok()
