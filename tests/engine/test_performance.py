"""A 50,000-event inventory in seconds; the idle cycle after it is one list call."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

from local_store.models import Calendar, EventState
from tests.engine.world import World, when

N = 50_000


@pytest.mark.slow
def test_inventory_of_50k_events_is_bulk(world: World) -> None:
    world.user("ann@example.com")
    a = world.calendar("ann@example.com", "Busy calendar", cal_id="ann@example.com")
    for i in range(N):
        s, e = when(i % 80, hours=(i // 80) % 24, minutes=(i * 7) % 60, length_min=15)
        world.sandbox.put_event(a, {"summary": f"E{i}", "start": s, "end": e})
    world.enable(a)
    # legacy mode: an inventory only (no stamping), the engine's full read path
    with world.ctx.store.engine.begin() as conn:
        conn.execute(update(Calendar.__table__).values(engine_mode="legacy"))  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    first = world.sync()
    inventory_s = time.perf_counter() - t0
    assert first.events_seen == N and first.failed == 0
    assert first.api_calls == 20  # 50,000 / 2,500 per page
    with world.ctx.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EventState)).scalar_one() == N
    t1 = time.perf_counter()
    idle = world.sync()
    idle_s = time.perf_counter() - t1
    assert idle.api_calls == 1 and idle.planned == {}
    print(f"\n50k inventory {inventory_s:.1f} s, idle cycle {idle_s:.2f} s")
    # generous bounds for a loaded 2-core CI box; an idle one does ~6 s and ~1 s
    assert inventory_s < 60 and idle_s < 15
