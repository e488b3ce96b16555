"""Console figures (not a timed test): first frame, a 50,000-event calendar, and, while a
sync cycle of the 10,000-event demo world runs, the latency of cursor keys, of typing in
the events filter and of screen switches (`d`, `m`, `e`): median, p95 and max.

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

from textual.widgets import Input

from calsync_tui.app import CalsyncApp
from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.screens.events import EventsScreen
from calsync_tui.widgets.event_list import EventList
from tests.tui.dataset import build_big_calendar, build_store, fixed_clock

SIZE = (120, 40)
RESULTS = Path(__file__).parent / "results" / "tui.json"


async def key_latency(app: CalsyncApp, key: str, changed: Any, limit_s: float = 5.0) -> float:
    """Milliseconds from posting `key` until `changed()` is true (the app handled it).

    Pilot's own waits sample process CPU time, so they stall while a worker thread
    works; this polls the app's state instead and measures the user-visible response.
    """
    t0 = time.perf_counter()
    app.simulate_key(key)
    while not changed():
        if time.perf_counter() - t0 > limit_s:
            break
        await asyncio.sleep(0.002)  # a tighter poll steals the GIL from the worker threads
    return (time.perf_counter() - t0) * 1000


async def keys_round(app: CalsyncApp, nav: list[float], typing: list[float]) -> None:
    """One round on the Events screen: ten cursor keys (into `nav`), then `/`, four keys
    typed in the filter (into `typing`) and `esc` back to the list."""
    screen = app.screen
    assert isinstance(screen, EventsScreen)
    lst = screen.query_one(EventList)
    for k in range(10):
        if lst.row_count < 2:
            break
        before = lst.cursor
        key = "down" if before == 0 or k % 2 == 0 else "up"
        moved = lambda b=before, w=lst: w.cursor != b  # noqa: E731
        nav.append(await key_latency(app, key, moved))
    flt = screen.query_one("#events-filter", Input)
    await key_latency(app, "slash", lambda f=flt: app.focused is f)
    for key in ("m", "e", "backspace", "backspace"):
        value = flt.value
        typing.append(await key_latency(app, key, lambda v=value, f=flt: f.value != v))
    await key_latency(app, "escape", lambda w=lst: app.focused is w)


async def wait_until(cond: Any, limit_s: float = 60.0) -> None:
    """Poll `cond()` every 2 ms until it is true (or `limit_s` passed)."""
    t0 = time.perf_counter()
    while not cond():
        if time.perf_counter() - t0 > limit_s:
            raise TimeoutError("the console did not get there")
        await asyncio.sleep(0.002)


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
        await wait_until(lambda: _view_shown(app, "events", 0))
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
        await wait_until(lambda: not screen.view_pending and lst.row_count != n)
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


def _view_shown(app: CalsyncApp, mode: str, before: int) -> bool:
    """`mode` is the current screen and shows a view read after the switch."""
    screen = app.screen
    return (
        app.current_mode == mode
        and isinstance(screen, ConsoleScreen)
        and screen.views_shown > before
    )


async def switch_latency(app: CalsyncApp, key: str, mode: str) -> tuple[float, float]:
    """Milliseconds from `key` until the screen of `mode` is on screen with its data (a
    screen seen before shows its last view at once), and until it shows a view whose
    reads were asked for after the key (they run in the screen's worker)."""
    t0 = time.monotonic()
    app.simulate_key(key)
    shown: float | None = None
    while True:
        now = time.monotonic()
        current = app.screen
        if app.current_mode == mode and isinstance(current, ConsoleScreen):
            if shown is None and current.views_shown >= 1:
                shown = now
            if current.view_asked_at >= t0:
                break
        if now - t0 > 20:
            break
        await asyncio.sleep(0.002)
    end = time.monotonic()
    return ((shown or end) - t0) * 1000, (end - t0) * 1000


async def keys_during_sync(root: Path, events: int) -> dict[str, Any]:
    """Latency while a real sync cycle of the demo world runs (the engine in its child
    process, the sandbox in another, as `calsync-tui demo` runs them), in rounds of what
    a person does: ten cursor keys in the events list; `/`, typing two letters in the
    filter and erasing them (each keystroke until the filter holds it), `esc`; then `d`,
    `m` and `e`, each until that screen shows a view read after the key (its store reads
    run in the screen's worker: the switch is not done before its data is on screen)."""
    from calsync_tui.commands.demo import demo_world

    with demo_world(root / "demo", events=events, in_process=False) as demo:
        app = CalsyncApp(home=demo.home.root, api_endpoint=demo.api_endpoint, start_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.can_write = True
            await pilot.press("e")
            await wait_until(lambda: _view_shown(app, "events", 0))
            t_cycle = time.perf_counter()
            app.action_sync_now()
            nav: list[float] = []
            typing: list[float] = []
            switch: dict[str, list[float]] = {"d": [], "m": [], "e": []}
            switch_fresh: dict[str, list[float]] = {"d": [], "m": [], "e": []}
            modes = {"d": "dashboard", "m": "migration", "e": "events"}
            rounds = 0
            while app.engine_state == "running" and rounds < 200:
                rounds += 1
                await keys_round(app, nav, typing)
                for key in ("d", "m", "e"):
                    on_screen, fresh = await switch_latency(app, key, modes[key])
                    switch[key].append(on_screen)
                    switch_fresh[key].append(fresh)
            await app.workers.wait_for_complete()
            cycle = time.perf_counter() - t_cycle
            every = [x for xs in switch.values() for x in xs]
            return {
                "demo_events": events,
                "engine": "child process (sync --once --progress-jsonl)",
                "sandbox": "child process (sandbox serve)",
                "cycle_s": round(cycle, 2),
                "rounds": rounds,
                "cursor_key_ms": _summary(nav),
                "filter_typing_ms": _summary(typing),
                "screen_switch_ms": _summary(every),
                "screen_switch_e_ms": _summary(switch["e"]),
                "screen_switch_m_ms": _summary(switch["m"]),
                "screen_switch_d_ms": _summary(switch["d"]),
                "fresh_view_after_switch_ms": _summary(
                    [x for xs in switch_fresh.values() for x in xs]
                ),
                "fresh_view_e_ms": _summary(switch_fresh["e"]),
                "fresh_view_m_ms": _summary(switch_fresh["m"]),
                "fresh_view_d_ms": _summary(switch_fresh["d"]),
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
