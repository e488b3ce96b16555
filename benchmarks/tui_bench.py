"""Console figures (not a timed test): first frame, a 50,000-event calendar, key latency
while a sync cycle runs against the sandbox demo world.

Run: `python -m benchmarks.tui_bench [--events 50000]`; writes benchmarks/results/tui.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.events import EventsScreen
from calsync_tui.widgets.event_list import EventList
from tests.tui.dataset import build_big_calendar, build_store, fixed_clock

SIZE = (120, 40)
RESULTS = Path(__file__).parent / "results" / "tui.json"


async def key_latency(app: CalsyncApp, key: str, changed: Any, limit_s: float = 5.0) -> float:
    """Milliseconds from posting `key` until `changed()` is true (the app handled it).

    Pilot's own waits sample process CPU time, so they stall while the engine thread
    works; this polls the app's state instead and measures the user-visible response.
    """
    t0 = time.perf_counter()
    app.simulate_key(key)
    while not changed():
        if time.perf_counter() - t0 > limit_s:
            break
        await asyncio.sleep(0.002)  # a tighter poll steals the GIL from the engine thread
    return (time.perf_counter() - t0) * 1000


async def first_frame(root: Path) -> float:
    """Seconds from constructing the app to its first painted dashboard (headless)."""
    home = build_store(root / "ff")
    t0 = time.perf_counter()
    app = CalsyncApp(home=home.root, clock=fixed_clock, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - t0


async def big_calendar(root: Path, n: int) -> dict[str, Any]:
    home = build_big_calendar(root / "big", n)
    app = CalsyncApp(home=home.root, clock=fixed_clock, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        t0 = time.perf_counter()
        await pilot.press("e")
        await pilot.pause()
        shown = time.perf_counter() - t0
        screen = app.screen
        assert isinstance(screen, EventsScreen)
        lst = screen.query_one(EventList)
        assert lst.row_count == n, lst.row_count
        lat: list[float] = []
        for key in ("end", "home", "pagedown", "pagedown", "down", "up", "end", "home"):
            before = lst.cursor
            lat.append(await key_latency(app, key, lambda b=before: lst.cursor != b))
        t = time.perf_counter()
        await pilot.press("slash", *"#4999", "enter")
        await pilot.pause()
        filt = time.perf_counter() - t
        return {
            "events": n,
            "show_calendar_s": round(shown, 3),
            "navigation_key_ms_median": round(statistics.median(lat), 1),
            "navigation_key_ms_max": round(max(lat), 1),
            "filter_s": round(filt, 3),
            "filter_rows": lst.row_count,
            "page_reads": lst.page_reads,
        }


def _summary(lat: list[float]) -> dict[str, float | None]:
    if not lat:
        return {"n": 0, "median": None, "p95": None, "max": None}
    ranked = sorted(lat)
    return {
        "n": len(lat),
        "median": round(statistics.median(lat), 1),
        "p95": round(ranked[max(0, int(len(ranked) * 0.95) - 1)], 1),
        "max": round(ranked[-1], 1),
    }


async def keys_during_sync(root: Path, events: int) -> dict[str, Any]:
    """Key latency while a real sync cycle runs in the engine's worker thread: cursor keys
    in the events list (what a person mostly presses) and, every tenth sample, a switch to
    the dashboard and back (a whole screen recomposed and re-read from the store)."""
    from calsync_tui.commands.demo import demo_world

    with demo_world(root / "demo", events=events) as demo:
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.can_write = True
            await pilot.press("e")
            await pilot.pause()
            t_cycle = time.perf_counter()
            app.action_sync_now()
            nav: list[float] = []
            switch: list[float] = []
            i = 0
            while app.engine_state == "running" and i < 600:
                i += 1
                if i % 10 == 0:
                    for key, mode in (("d", "dashboard"), ("e", "events")):
                        switch.append(
                            await key_latency(app, key, lambda m=mode: app.current_mode == m)
                        )
                    continue
                screen = app.screen
                if not isinstance(screen, EventsScreen):
                    await asyncio.sleep(0.01)
                    continue
                lst = screen.query_one(EventList)
                if lst.row_count < 2:  # being re-read after the switch: nothing to move
                    await asyncio.sleep(0.01)
                    continue
                before = lst.cursor
                key = "down" if before == 0 or i % 2 else "up"
                moved = lambda b=before, w=lst: w.cursor != b  # noqa: E731
                nav.append(await key_latency(app, key, moved))
            await app.workers.wait_for_complete()
            cycle = time.perf_counter() - t_cycle
            return {
                "demo_events": events,
                "cycle_s": round(cycle, 2),
                "cursor_key_ms": _summary(nav),
                "screen_switch_ms": _summary(switch),
                "last_cycle": app.last_cycle,
            }


async def main(n: int, demo_events: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        out["first_frame_s"] = round(await first_frame(root), 3)
        out["big_calendar"] = await big_calendar(root, n)
        try:
            out["keys_during_sync"] = await keys_during_sync(root, demo_events)
        except Exception as exc:  # a missing part is reported, not hidden
            out["keys_during_sync"] = {"error": f"{exc.__class__.__name__}: {exc}"}
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--demo-events", type=int, default=10_000)
    args = parser.parse_args()
    result = asyncio.run(main(args.events, args.demo_events))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
