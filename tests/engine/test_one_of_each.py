"""One of each helper (issue 13): one calendar reference and enabled-calendar rule, one
private-properties reader, one definition of "stuck"; engine and migration agree."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync_tui.engine import fields
from calsync_tui.engine.calendar_ref import CalendarRef, enabled_calendars
from calsync_tui.engine.classify import ClassifyContext, classify
from calsync_tui.engine.fields import BadEventData, private_props
from calsync_tui.engine.model import EventClass
from calsync_tui.migration import env as migration_env
from calsync_tui.migration import events as migration_events
from local_store.models import EventState, Mutation
from local_store.queries import count_stuck
from tests.engine.world import World


def _event(private: dict[str, object]) -> dict[str, object]:
    return {
        "id": "e1",
        "summary": "Standup",
        "start": {"dateTime": "2026-12-02T10:00:00Z"},
        "end": {"dateTime": "2026-12-02T10:30:00Z"},
        "extendedProperties": {"private": private},
    }


def test_one_private_props_reader_is_strict() -> None:
    bad = _event({"calsync_id": 5, "calsync_type": "user_event"})
    with pytest.raises(BadEventData, match="is not a string"):
        private_props(bad)
    # the migration's name is the same reader (it used to coerce 5 into "5")
    assert migration_events.private_props is private_props
    with pytest.raises(BadEventData):
        migration_events.private_props(bad)
    # and such an event is malformed data: class `error`, never written
    cls = classify(bad, ClassifyContext(installation_id="i", calendar_google_id="a@x"))
    assert cls.event_class == EventClass.ERROR
    assert "not a string" in cls.reason
    assert fields.safe_private_props(bad) == {}
    good = _event({"calsync_id": "x"})
    assert private_props(good) == {"calsync_id": "x"}


def test_one_calendar_ref_type() -> None:
    from calsync_tui.engine import plan

    assert plan.CalendarRef is CalendarRef
    assert migration_env.CalendarRef is CalendarRef
    ref = CalendarRef(1, "a@x", "owner", "ann@x")
    assert (ref.email, ref.engine_mode, ref.writable) == ("ann@x", "uuid", True)


def test_best_role_wins_for_engine_and_migration(world: World) -> None:
    """A calendar two accounts see (reader for one, writer for the other) is one enabled
    calendar, read through the writer's account, for the engine and the migration alike
    (the migration used to take the first row)."""
    bob = world.user("bob@x.test")  # registered first: his calendar row comes first
    ann = world.user("ann@x.test")
    shared = world.calendar(ann, "Shared")
    world.sandbox.share(shared, bob, "reader")
    world.enable(shared)
    with world.ctx.store.session() as session:
        engine_refs = enabled_calendars(session.connection())
        migration_refs = migration_env.enabled_calendars(session)
    assert [(c.google_id, c.access_role, c.account) for c in engine_refs] == [
        (shared, "owner", ann)
    ]
    assert engine_refs == migration_refs


def test_one_definition_of_stuck(world: World) -> None:
    """`creating` rows plus pending sync journal rows, for the cycle and the read model."""
    ann = world.user("ann@x.test")
    cal = world.calendar(ann, "Work")
    world.enable(cal)
    world.sync()
    now = datetime.now(UTC)
    with world.ctx.store.session() as session:
        cal_id = world.enabled()[0].id
        assert cal_id is not None
        session.add(
            EventState(
                correlation_id="c-creating",
                calendar_id=cal_id,
                google_event_id="g1",
                status="creating",
            )
        )
        session.add(
            Mutation(
                plan_id="p",
                op="insert",
                calendar_id=cal_id,
                google_event_id="g2",
                status="pending",
                origin="sync",
                created_at=now,
                updated_at=now,
            )
        )
        session.add(
            Mutation(
                plan_id="m",
                op="stamp",
                calendar_id=cal_id,
                google_event_id="g3",
                status="pending",
                origin="migration",
            )
        )
        session.commit()
        assert count_stuck(session) == 2
    with world.ctx.store.engine.connect() as conn:
        assert count_stuck(conn) == 2
