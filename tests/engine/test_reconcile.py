"""Crash leftovers: journaled-but-unsent writes are finished; hopeless ones fail loudly."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update

from calsync_tui.engine.execute import journal
from calsync_tui.engine.reconcile import reconcile
from local_store.models import Alert, EventState, Mutation
from tests.engine.test_scenarios import _settle, two_calendars
from tests.engine.world import World


def _now() -> datetime:
    return datetime.now(UTC)


def test_journaled_but_unsent_writes_are_finished(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    plan = world.sync(dry_run=True).plan
    assert plan is not None and len(plan) == 2
    # the crash: journal + creating states committed, process died before the batch
    journal(world.ctx.store, plan.plan_id, plan.mutations, origin="sync", now=_now())
    with world.ctx.store.session() as s:
        assert [x.status for x in s.exec(select(EventState)).scalars()] == ["creating"]  # type: ignore[call-overload]
    world.sandbox.reset_stats()
    r = world.sync()
    assert r.reconciled == 2 and r.stuck == 0 and r.planned == {}
    with world.ctx.store.session() as s:
        muts = list(s.exec(select(Mutation)).scalars())  # type: ignore[call-overload]
    assert sorted((m.op, m.status, m.attempts) for m in muts) == [
        ("insert", "done", 1),
        ("stamp", "done", 1),
    ]
    assert len(world.blocks_on(b)) == 1
    _settle(world)
    world.assert_ok()
    # the same leftovers again (a crash after Google applied them): adopted, no duplicate
    journal(world.ctx.store, "again", plan.mutations, origin="sync", now=_now())
    r2 = world.sync()
    assert r2.failed == 0 and r2.stuck == 0
    assert len(world.blocks_on(b)) == 1
    world.assert_ok()


def test_leftover_that_keeps_failing_is_marked_failed_with_an_alert(world: World) -> None:
    a, _b = two_calendars(world)
    world.put(a, "Dentist")
    plan = world.sync(dry_run=True).plan
    assert plan is not None
    journal(world.ctx.store, plan.plan_id, plan.mutations, origin="sync", now=_now())
    with world.ctx.store.engine.begin() as conn:
        conn.execute(update(Mutation.__table__).values(attempts=3))  # type: ignore[attr-defined]
    rep = reconcile(world.ctx.store, world.ctx.gateway_for, batch_size=50, now=_now)
    assert rep.gave_up == 2 and rep.resent == 0
    with world.ctx.store.session() as s:
        assert {m.status for m in s.exec(select(Mutation)).scalars()} == {"failed"}  # type: ignore[call-overload]
        assert [x.status for x in s.exec(select(EventState)).scalars()] == ["failed"]  # type: ignore[call-overload]
        assert len(list(s.exec(select(Alert)).scalars())) == 2  # type: ignore[call-overload]
    # and the next cycle still converges (the insert is planned again, idempotently)
    _settle(world)
    world.assert_ok()


def test_lost_database_recovers_by_reimporting_without_writes(world: World) -> None:
    """Same installation id, empty DB: stamped sources and deterministic block ids mean
    the first cycle re-imports everything and writes nothing."""
    from calsync_tui.context import AppContext
    from calsync_tui.google.accounts import register_static_token

    a, b = two_calendars(world)
    world.put(a, "Dentist")
    world.put(b, "Gym")
    _settle(world)
    before = {c: sorted(x["id"] for x in evs) for c, evs in world.truth().items()}
    world.ctx.close()
    for path in world.home.root.glob("calsync.db*"):
        path.unlink()
    world.ctx = AppContext(world.home, world.settings)
    for email, token in world.tokens.items():
        register_static_token(world.home, world.ctx.store, email, token)
    world.enable(a, b)
    world.sandbox.reset_stats()
    r = world.sync()
    assert r.planned == {} and r.failed == 0
    assert world.sandbox.stats()["writes"] == 0
    assert {c: sorted(x["id"] for x in evs) for c, evs in world.truth().items()} == before
    world.assert_ok()


def test_journal_keeps_the_full_prior_state_of_a_block(world: World) -> None:
    """A block not listed this cycle (its source moved) is journaled with everything we
    last wrote, so a rollback can restore it completely."""
    import json

    from tests.engine.world import when

    a, b = two_calendars(world)
    src = world.put(a, "Dentist")
    _settle(world)
    (blk,) = world.blocks_on(b)
    s, e = when(4, hours=15)
    world.sandbox.patch_event(a, src["id"], {"start": s, "end": e})
    world.sync()
    with world.ctx.store.session() as sess:
        patch = next(
            m
            for m in sess.exec(select(Mutation)).scalars()  # type: ignore[call-overload]
            if m.op == "patch"
        )
    before = json.loads(patch.before_json or "{}")
    assert before["extendedProperties"] == blk["extendedProperties"]
    assert before["description"] == blk["description"] and before["start"] == blk["start"]
    after = json.loads(patch.after_json or "{}")
    assert after["start"] == s
