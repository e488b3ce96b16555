"""Dry-run, disabling, external events, legacy-mode detection, 410, sign-in loss, lineage."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from calsync_tui.engine.model import EventClass
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.service.lineage import lineage
from local_store.models import Alert, Calendar, EventState, Mutation, SyncRun
from tests.engine.test_scenarios import _settle, two_calendars
from tests.engine.world import World, when

ME_OTHER = "99999999-9999-4999-8999-999999999999"


def count(world: World, table: type) -> int:
    with world.ctx.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_dry_run_writes_nothing(world: World) -> None:
    a, _b = two_calendars(world)
    world.put(a, "Dentist")
    world.sandbox.reset_stats()
    r = world.sync(dry_run=True)
    assert r.planned == {"insert": 1, "stamp": 1}
    stats = world.sandbox.stats()
    assert stats["writes"] == 0 and set(stats["by_method"]) == {"calendar.events.list"}
    assert count(world, EventState) == 0 and count(world, Mutation) == 0
    with world.ctx.store.session() as s:
        assert all(c.sync_token is None for c in s.exec(select(Calendar)).scalars())  # type: ignore[call-overload]
        runs = list(s.exec(select(SyncRun)).scalars())  # type: ignore[call-overload]
    assert [x.kind for x in runs] == ["dry_run"]
    # a real sync afterwards does exactly what the dry-run showed
    r2 = world.sync()
    assert r2.mutations == r.planned


def test_disable_orphans_and_remove_blocks(world: World) -> None:
    from calsync_tui.engine.calendars import remove_blocks

    a, b = two_calendars(world)
    world.put(a, "A1")
    world.put(b, "B1", start=when(2)[0], end=when(2)[1])
    _settle(world)
    world.disable(a)
    r = world.sync()
    assert r.mutations == {"delete": 1}  # A1's block on b: its source calendar is gone
    assert world.blocks_on(b) == []
    rep = remove_blocks(world.ctx.store, a, world.ctx.gateway_for, batch_size=50)
    assert rep.done_total == 1  # B1's block on a
    assert [e for e in world.sandbox.events(a) if "Busy" in e.get("summary", "")] == []


def test_external_calsync_events_are_never_touched(world: World) -> None:
    a, _b = two_calendars(world)
    ext = world.put(
        a,
        "Busy - elsewhere",
        extendedProperties={
            "private": {
                "calsync_id": "12345678-1234-4234-8234-123456789012",
                "calsync_type": "busy_block",
                "calsync_source": "12345678-1234-4234-8234-123456789013",
                "calsync_v": "1",
                "calsync_instance": ME_OTHER,
            }
        },
    )
    world.sandbox.reset_stats()
    r = world.sync()
    assert r.planned == {} and r.classes.get(str(EventClass.EXTERNAL_CALSYNC)) == 1
    assert world.sandbox.events(a)[0]["etag"] == ext["etag"]


def test_legacy_blocks_keep_legacy_mode_and_count_as_blocks(world: World) -> None:
    a, b = two_calendars(world)
    s, e = when(1)
    world.put(a, "Dentist", start=s, end=e)
    world.put(b, "🔒 Busy - Dentist", start=s, end=e)
    world.put(b, "🔒 Busy - 🔒 Busy - Dentist", start=s, end=e)  # a cascade
    r = world.sync()
    assert r.cascades == 1
    with world.ctx.store.session() as sess:
        modes = {c.google_id: c.engine_mode for c in sess.exec(select(Calendar)).scalars()}  # type: ignore[call-overload]
        alerts = [x.kind for x in sess.exec(select(Alert)).scalars()]  # type: ignore[call-overload]
    assert modes == {a: "uuid", b: "legacy"}
    assert "cascade" in alerts
    assert r.mutations == {"delete": 1, "stamp": 1}  # the cascade goes; the legacy block stays
    _settle(world)
    world.assert_ok()


def test_sync_token_gone_does_a_full_listing_without_duplicates(world: World) -> None:
    a, b = two_calendars(world)
    world.put(a, "Dentist")
    _settle(world)
    world.sandbox.expire_sync_tokens()
    world.put(a, "Later", start=when(4)[0], end=when(4)[1])
    r = world.sync()
    assert r.mutations.get("insert") == 1
    _settle(world)
    world.assert_ok()
    assert len(world.blocks_on(b)) == 2


def test_one_account_needs_signin_others_go_on(world: World) -> None:
    ann = world.user("ann@example.com")
    bob = world.user("bob@example.com")
    a = world.calendar(ann, "A", cal_id=ann)
    a2 = world.calendar(ann, "A2")
    b = world.calendar(bob, "B", cal_id=bob)
    world.enable(a, a2, b)
    world.put(a, "A1")
    _settle(world)
    # bob's token stops working
    world.sandbox.add_user(bob, "rotated")
    world.sandbox.world.tokens.pop(world.tokens[bob], None)
    world.ctx._gateways.clear()
    world.put(a, "A-new", start=when(2)[0], end=when(2)[1])
    r = world.sync()
    assert bob in r.needs_signin
    assert r.mutations.get("insert") == 1  # a2 still gets its block; nothing planned on b
    assert all(m.calendar_google_id != b for m in (r.plan.mutations if r.plan else []))


def test_lineage_from_source_and_block(world: World) -> None:
    a, b = two_calendars(world)
    src = world.put(a, "Dentist")
    _settle(world)
    with world.ctx.store.session() as s:
        lin = lineage(s, src["id"])
        assert lin.source is not None and lin.source.summary == "Dentist"
        assert [blk.calendar for blk in lin.blocks] == [b]
        assert [j.op for j in lin.blocks[0].journal] == ["insert"]
        assert [j.op for j in lin.source.journal] == ["stamp"]
        via_block = lineage(s, lin.blocks[0].google_event_id)
        assert (
            via_block.source is not None
            and via_block.source.correlation_id == lin.source.correlation_id
        )
        via_cid = lineage(s, lin.blocks[0].correlation_id)
        assert via_cid.to_json()["blocks"][0]["status"] in ("created", "synced")


def test_messy_demo_world_converges_to_the_invariants(sb: SandboxServer, tmp_path: Path) -> None:
    """The seeded demo: legacy blocks with duplicates, cascades and orphans, external
    events, readers, two accounts, a calendar seen by both (reader + freeBusyReader)."""
    from pathlib import Path

    from calsync_tui.engine.calendars import list_calendars, refresh_calendars, set_enabled
    from calsync_tui.google.accounts import register_static_token
    from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, build_demo

    build_demo(sb, seed=3, events=300)
    world = World(sb, Path(str(tmp_path)), requests_per_minute=10_000)
    try:
        for email, token in DEMO_ACCOUNTS:
            register_static_token(world.home, world.ctx.store, email, token)
        refresh_calendars(world.ctx.store, world.ctx.gateway_for)
        ids = sorted({c.google_id for c in list_calendars(world.ctx.store)})
        set_enabled(world.ctx.store, ids, True)
        first = world.sync()
        assert first.failed == 0 and first.cascades > 0 and first.mutations.get("delete", 0) > 0
        _settle(world)
        world.assert_ok()
        again = world.sync()
        assert again.planned == {} and again.api_calls == len(world.enabled())
    finally:
        world.close()


def _set_mode(world: World, cal: str, mode: str) -> None:
    from sqlalchemy import update

    with world.ctx.store.engine.begin() as conn:
        conn.execute(
            update(Calendar.__table__)  # type: ignore[attr-defined]
            .where(Calendar.__table__.c.google_id == cal)  # type: ignore[attr-defined]
            .values(engine_mode=mode)
        )


def test_hybrid_mode_links_legacy_blocks_then_replaces_stale_ones(world: World) -> None:
    a, b = two_calendars(world)
    s, e = when(1)
    src = world.put(a, "Dentist", start=s, end=e)
    legacy = world.put(b, "📅 Busy - Dentist", start=s, end=e)
    world.sync()  # first cycle: b has legacy blocks -> legacy mode
    _set_mode(world, b, "hybrid")
    _settle(world)
    ids_on_b = {x["id"] for x in world.truth()[b]}
    assert ids_on_b == {legacy["id"]}  # the legacy block stands for the source
    world.assert_ok()
    world.sandbox.patch_event(a, src["id"], {"summary": "Dentist (moved)"})
    r = world.sync()
    assert r.mutations == {"delete": 1, "insert": 1}
    assert [x["summary"] for x in world.truth()[b]] == ["Busy - Dentist (moved)"]
    _settle(world)
    world.assert_ok()


def test_malformed_event_is_reported_and_never_written(world: World) -> None:
    a, b = two_calendars(world)
    bad = world.put(
        a,
        "Weird",
        extendedProperties={
            "private": {
                "calsync_id": "not-a-uuid",
                "calsync_type": "user_event",
                "calsync_instance": world.ctx.installation_id,
            }
        },
    )
    bad2 = world.put(
        a,
        "Weird 2",
        extendedProperties={
            "private": {
                "calsync_id": "12345678-1234-4234-8234-123456789012",
                "calsync_type": "gizmo",
            }
        },
    )
    r = world.sync()
    assert r.classes.get("error") == 2 and r.failed == 0
    assert r.planned == {}
    assert world.blocks_on(b) == []
    now = {e["id"]: e["etag"] for e in world.sandbox.events(a)}
    assert now[bad["id"]] == bad["etag"] and now[bad2["id"]] == bad2["etag"]
    with world.ctx.store.session() as s:
        errs = {
            x.google_event_id: x.error
            for x in s.exec(select(EventState)).scalars()  # type: ignore[call-overload]
            if x.event_class == "error"
        }  # type: ignore[call-overload]
    assert set(errs) == {bad["id"], bad2["id"]} and all(errs.values())


def test_lineage_of_a_series_id_asks_for_an_instance(world: World) -> None:
    from calsync_tui.errors import CalsyncError

    a, _b = two_calendars(world)
    s, e = when(1, hours=9, tz="Europe/Paris")
    master = world.put(a, "Standup", start=s, end=e, recurrence=["RRULE:FREQ=DAILY;COUNT=2"])
    _settle(world)
    with world.ctx.store.session() as sess:
        try:
            lineage(sess, master["id"])
        except CalsyncError as exc:
            assert "recurring series" in str(exc)
        else:
            raise AssertionError("expected a CalsyncError")
        inst = world.sandbox.events(a, single_events=True)[0]["id"]
        assert lineage(sess, inst).blocks
