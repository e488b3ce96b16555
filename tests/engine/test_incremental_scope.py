"""The scoped cycle (engine/scope.py) plans exactly what the full cycle would.

Proof by comparison on the real engine, sandbox and SQLite store: before each real sync,
a dry run (always full scope, and it saves nothing) reads the same incremental changes
and plans over the whole store. When the real sync took the scoped path, its plan id
(a hash of every mutation with its body and before-state), class counts and event count
must equal the full plan's. After it, a full dry run must plan nothing and the
invariants must hold. Plus: every disqualifying condition forces the full path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import initialize, rule, run_state_machine_as_test
from sqlalchemy import insert, update

from calsync_tui.engine import scope
from calsync_tui.engine.cycle import CycleReport
from local_store.models import Calendar, EventState, Mutation, SyncRun
from tests.engine.test_stateful import SyncMachine
from tests.engine.world import World, iter_blocks, when

SCOPED_CHECKS: list[int] = []
_CAL = Calendar.__table__  # type: ignore[attr-defined]
_ES = EventState.__table__  # type: ignore[attr-defined]


def checked_sync(w: World, *, invariants: bool = True) -> CycleReport:
    """A real sync, compared with the full-scope dry run over the same reads.

    `invariants=False` where the checker cannot know the intent (a block deleted by hand
    that the user's settings say to leave deleted)."""
    reference = w.sync(dry_run=True)
    assert reference.scope == scope.FULL
    real = w.sync()
    assert real.failed == 0, real.errors
    assert real.stuck == 0
    if real.scope == scope.SCOPED:
        assert real.plan is not None and reference.plan is not None
        assert real.plan.to_json() == reference.plan.to_json()
        assert real.classes == reference.classes
        assert real.events_seen == reference.events_seen
        assert real.cascades == reference.cascades
    after = w.sync(dry_run=True)
    assert after.planned == {}, after.plan.to_json() if after.plan else None
    if invariants:
        w.assert_ok()
    return real


# --- random histories ----------------------------------------------------------------------


class ScopedMachine(SyncMachine):
    """The stateful machine's user actions; each sync is checked against the full plan."""

    def __init__(self) -> None:
        super().__init__()
        self.scoped = 0

    @initialize()
    def setup(self) -> None:
        super().setup()
        # Settle on empty calendars (uuid mode), so later cycles may be scoped.
        self.w.sync()
        self.w.sync()

    def teardown(self) -> None:
        SCOPED_CHECKS.append(self.scoped)
        super().teardown()

    @rule()
    def sync(self) -> None:
        report = checked_sync(self.w)
        self.scoped += report.scope == scope.SCOPED


ScopedMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("CALSYNC_SCOPE_EXAMPLES", "12")),
    stateful_step_count=int(os.environ.get("CALSYNC_SCOPE_STEPS", "14")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestScopedMachine = ScopedMachine.TestCase


def test_scoped_path_was_exercised() -> None:
    """Guard against a vacuous proof: random histories did take the scoped path."""
    assert SCOPED_CHECKS and sum(SCOPED_CHECKS) > 0


# --- targeted cases --------------------------------------------------------------------------


@pytest.fixture
def three(world: World) -> Iterator[tuple[World, list[str]]]:
    """ann Work + Personal, bob Side, a reader calendar; settled (two clean cycles)."""
    ann = world.user("ann@example.com")
    bob = world.user("bob@example.com")
    cals = [
        world.calendar(ann, "Work", cal_id=ann),
        world.calendar(ann, "Personal", tz="Europe/Paris"),
        world.calendar(bob, "Side", cal_id=bob),
    ]
    reader = world.calendar("boss@example.com", "Team")
    world.sandbox.share(reader, ann, "reader")
    world.enable(*cals, reader)
    first = world.sync()
    assert first.scope == scope.FULL
    s, e = when(2, hours=9)
    world.put(cals[0], "Dentist", start=s, end=e)
    s, e = when(3, hours=14)
    world.put(cals[1], "Lunch", start=s, end=e)
    s, e = when(1, hours=8, tz="Europe/Paris")
    world.put(cals[2], "Standup", start=s, end=e, recurrence=["RRULE:FREQ=DAILY;COUNT=4"])
    s, e = when(4, hours=11)
    world.put(reader, "Team sync", start=s, end=e)
    for _ in range(3):
        world.sync()
    yield world, [*cals, reader]


def _user_event(w: World, cal: str, title: str) -> dict[str, Any]:
    for e in w.sandbox.events(cal):
        if e.get("summary") == title:
            return dict(e)
    raise AssertionError(f"no {title!r} on {cal}")


def _scoped(w: World, *, invariants: bool = True) -> CycleReport:
    report = checked_sync(w, invariants=invariants)
    assert report.scope == scope.SCOPED, report.scope_reason
    return report


def test_source_retitled_moved_deleted(three: tuple[World, list[str]]) -> None:
    w, cals = three
    ev = _user_event(w, cals[0], "Dentist")
    w.sandbox.patch_event(cals[0], ev["id"], {"summary": "Doctor"})
    r = _scoped(w)
    assert r.planned == {"patch": 2}
    s, e = when(5, hours=16)
    w.sandbox.patch_event(cals[0], ev["id"], {"start": s, "end": e})
    assert _scoped(w).planned == {"patch": 2}
    w.sandbox.delete_event(cals[0], ev["id"])
    assert _scoped(w).planned == {"delete": 2}
    assert not [b for b in iter_blocks(w.sandbox.events(cals[1])) if "Doctor" in b["summary"]]


def test_source_declined_and_made_free(three: tuple[World, list[str]]) -> None:
    w, cals = three
    ev = _user_event(w, cals[1], "Lunch")
    w.sandbox.patch_event(cals[1], ev["id"], {"transparency": "transparent"})
    assert _scoped(w).planned == {"delete": 2}
    w.sandbox.patch_event(cals[1], ev["id"], {"transparency": "opaque"})
    assert _scoped(w).planned.get("insert") == 2
    ev = _user_event(w, cals[0], "Dentist")
    w.sandbox.patch_event(
        cals[0], ev["id"], {"attendees": [{"email": cals[0], "responseStatus": "declined"}]}
    )
    assert _scoped(w).planned == {"delete": 2}


def test_new_event_on_reader_and_writable(three: tuple[World, list[str]]) -> None:
    w, cals = three
    s, e = when(6, hours=10)
    w.put(cals[3], "Board", start=s, end=e)
    w.put(cals[2], "Gym", start=s, end=e)
    r = _scoped(w)
    assert r.planned.get("insert") == 3 + 2


def test_block_deleted_and_edited_by_hand(three: tuple[World, list[str]]) -> None:
    w, cals = three
    blocks = list(iter_blocks(w.sandbox.events(cals[1])))
    assert len(blocks) >= 2
    w.sandbox.delete_event(cals[1], blocks[0]["id"])
    w.sandbox.patch_event(
        cals[1], blocks[1]["id"], {"summary": "mine now", "visibility": "default"}
    )
    r = _scoped(w)
    assert r.planned.get("insert") == 1 and r.planned.get("patch") == 1


def test_block_deleted_by_hand_is_respected(three: tuple[World, list[str]]) -> None:
    w, cals = three
    w.settings.respect_manual_deletion = True
    w.sync()  # the setting changed: a full cycle first
    blk = next(iter_blocks(w.sandbox.events(cals[0])))
    w.sandbox.delete_event(cals[0], blk["id"])
    assert _scoped(w, invariants=False).planned == {}


def test_recurring_instance_moved_and_cancelled(three: tuple[World, list[str]]) -> None:
    w, cals = three
    instances = [
        e for e in w.sandbox.events(cals[2], single_events=True) if e.get("summary") == "Standup"
    ]
    assert len(instances) == 4
    s, e = when(1, hours=15)
    w.sandbox.patch_event(cals[2], instances[1]["id"], {"start": s, "end": e})
    assert _scoped(w).planned.get("patch") == 2
    w.sandbox.delete_event(cals[2], instances[2]["id"])
    assert _scoped(w).planned == {"delete": 2}
    master = instances[0]["recurringEventId"]
    w.sandbox.delete_event(cals[2], master)
    assert _scoped(w).planned == {"delete": 3 * 2}  # the 3 instances left


def test_same_meeting_on_two_calendars(three: tuple[World, list[str]]) -> None:
    """Copies of one meeting (same iCalUID) decide each other's blocks: the scoped
    cycle loads the other copies and their blocks too."""
    w, cals = three
    s, e = when(9, hours=9)
    copies = {"attendees": [{"email": cals[0]}, {"email": cals[2]}]}
    w.put(cals[0], "Planning", start=s, end=e, id="meet0001", iCalUID="meet-1@x", **copies)
    assert _scoped(w).planned == {"stamp": 1, "insert": 2}  # blocks on Personal and Side
    w.put(cals[2], "Planning", start=s, end=e, id="meet0001", iCalUID="meet-1@x", **copies)
    assert _scoped(w).planned == {
        "stamp": 1,
        "delete": 1,
    }  # Side holds the meeting itself: its block goes
    w.sandbox.patch_event(cals[2], "meet0001", {"summary": "Planning (moved room)"})
    assert _scoped(w).planned == {}  # the first copy still mirrors it
    w.sandbox.delete_event(cals[0], "meet0001")
    assert _scoped(w).planned == {"insert": 2, "delete": 1}  # the Side copy takes over


def test_counts_come_from_the_whole_store(three: tuple[World, list[str]]) -> None:
    w, _ = three
    idle = w.sync()
    assert idle.scope == scope.SCOPED and idle.planned == {}
    full = w.sync(dry_run=True)
    assert idle.classes == full.classes and idle.events_seen == full.events_seen > 10


# --- every disqualifying condition forces the full path --------------------------------------


def _full_because(w: World, words: str) -> None:
    report = w.sync()
    assert report.scope == scope.FULL
    assert words in report.scope_reason, report.scope_reason


def test_first_cycle_of_a_process_and_dry_runs_are_full(three: tuple[World, list[str]]) -> None:
    w, _ = three
    assert w.sync(dry_run=True).scope == scope.FULL
    scope.forget(w.ctx.store)
    _full_because(w, "no clean full cycle")
    assert w.sync().scope == scope.SCOPED


def test_settings_and_calendars_changes_are_full(three: tuple[World, list[str]]) -> None:
    w, cals = three
    w.settings.title_template = "Blocked - {title}"
    _full_because(w, "settings")
    w.settings.window_days_ahead = 60
    _full_because(w, "settings")
    w.disable(cals[1])
    _full_because(w, "calendars")
    w.enable(cals[1])
    _full_because(w, "calendars")
    with w.ctx.store.engine.begin() as conn:
        conn.execute(
            update(Calendar.__table__)  # type: ignore[attr-defined]
            .where(_CAL.c.google_id == cals[3])
            .values(access_role="writer")
        )
    _full_because(w, "calendars")


def test_legacy_mode_is_full(three: tuple[World, list[str]]) -> None:
    w, cals = three
    with w.ctx.store.engine.begin() as conn:
        conn.execute(
            update(Calendar.__table__)  # type: ignore[attr-defined]
            .where(_CAL.c.google_id == cals[1])
            .values(engine_mode="hybrid")
        )
    w.sync()  # mode changed: fingerprint
    _full_because(w, "legacy or hybrid")


def test_full_listing_is_full(three: tuple[World, list[str]]) -> None:
    w, cals = three
    w.sandbox.expire_sync_tokens(cals[0])
    _full_because(w, "listed in full")
    assert w.sync().scope == scope.SCOPED


def test_other_writers_pending_and_creating_are_full(three: tuple[World, list[str]]) -> None:
    w, _ = three
    now = datetime.now(UTC)
    with w.ctx.store.engine.begin() as conn:
        conn.execute(insert(SyncRun.__table__).values(kind="discover", started_at=now))  # type: ignore[attr-defined]
    _full_because(w, "another run")
    with w.ctx.store.engine.begin() as conn:
        conn.execute(
            update(EventState.__table__)  # type: ignore[attr-defined]
            .where(_ES.c.event_type == "busy_block")
            .values(status="creating")
        )
    report = w.sync()
    assert report.scope == scope.FULL  # reconcile resolved them first, then a full plan
    w.sync()
    assert w.sync().scope == scope.SCOPED
    with w.ctx.store.engine.begin() as conn:
        conn.execute(
            insert(Mutation.__table__).values(  # type: ignore[attr-defined]
                plan_id="x", op="patch", calendar_id=1, google_event_id="nope", status="done"
            )
        )
    _full_because(w, "journal write")


def test_big_change_sets_and_periodic_full(
    three: tuple[World, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    w, cals = three
    monkeypatch.setattr(scope, "MAX_CHANGED_EVENTS", 1)
    for i in range(2):
        s, e = when(7 + i, hours=10)
        w.put(cals[0], f"Batch {i}", start=s, end=e)
    _full_because(w, "more than 1 changed")
    monkeypatch.setattr(scope, "MAX_CHANGED_EVENTS", 500)
    monkeypatch.setattr(scope, "FULL_EVERY_CYCLES", 2)
    assert w.sync().scope == scope.SCOPED
    assert w.sync().scope == scope.SCOPED
    _full_because(w, "periodic")
    monkeypatch.setattr(scope, "FULL_EVERY_SECONDS", 0.0)
    _full_because(w, "periodic")


def test_a_cycle_with_errors_forces_full_next(three: tuple[World, list[str]]) -> None:
    w, cals = three
    s, e = when(8, hours=10)
    w.put(cals[0], "Retry me", start=s, end=e)
    w.sandbox.set_faults("error5xx=1,seed=3")
    bad = w.sync()
    assert bad.failed > 0 or bad.errors
    w.sandbox.set_faults(None)
    _full_because(w, "no clean full cycle")
    w.assert_ok()
    assert w.sync().scope == scope.SCOPED


@pytest.mark.campaign
@pytest.mark.timeout(4 * 3600)  # hundreds of random histories: far past the suite's 300 s
def test_scoped_campaign() -> None:
    """`make campaign`: many more random histories, longer ones."""
    run_state_machine_as_test(
        ScopedMachine,
        settings=settings(
            max_examples=int(os.environ.get("CALSYNC_CAMPAIGN_EXAMPLES", "300")),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print(f"\nscoped cycles checked against the full plan: {sum(SCOPED_CHECKS)}")
    assert sum(SCOPED_CHECKS) > 0
