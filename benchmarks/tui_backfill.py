"""Console figures while a backfill of the 10,000-event demo runs (not a timed test):
cursor-key and filter-typing latency (median, p95, max) in the events screen, with the
backfill in a thread of the console (before: how the cockpit ran it) and in its child
process (after: `migrate backfill --progress-jsonl`, `service.migrateproc`, what `y`
runs now). Each mode gets its own demo world (same seed), the sandbox in its own process
as `calsync-tui demo` runs it, and the same plan; the keys are measured for `--seconds`
or until the backfill ends, then the backfill is paused.

Run: `python -m benchmarks.tui_backfill [--events 10000] [--seconds 40] [--mode both]`;
writes benchmarks/results/tui_backfill.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


from benchmarks.tui_bench import SIZE, _summary, keys_round, wait_until
from calsync_tui.app import CalsyncApp
from calsync_tui.migration import service
from calsync_tui.migration.journal import Progress
from calsync_tui.migration.plan_file import read_plan
from calsync_tui.screens.events import EventsScreen
from calsync_tui.screens.migration import MigrationScreen
from calsync_tui.service.plans import PlanView, plan_view

RESULTS = Path(__file__).parent / "results" / "tui_backfill.json"


def _cli(home: Path, url: str, *argv: str, ok: tuple[int, ...] = (0,)) -> None:
    cmd = [sys.executable, "-m", "calsync_tui", "--home", str(home), "--api-endpoint", url]
    done = subprocess.run([*cmd, *argv], capture_output=True, text=True, timeout=900)
    if done.returncode not in ok:
        why = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:]
        raise SystemExit(f"{' '.join(argv)} failed: {' '.join(why)}")


def _resolve_ambiguous(home: Path, url: str) -> int:
    """What the prepare gate asks of a person: delete the legacy blocks that match several
    sources (the 10,000-event demo has one), then prepare again. Returns how many."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from calsync_tui.sandbox.demo import DEMO_ACCOUNTS

    cmd = [sys.executable, "-m", "calsync_tui", "--home", str(home), "--api-endpoint", url]
    done = subprocess.run(
        [*cmd, "migrate", "prepare", "--json"], capture_output=True, text=True, timeout=900
    )
    ambiguous = json.loads(done.stdout)["links"]["ambiguous"]
    for amb in ambiguous:
        cal = urllib.parse.quote(amb["block"]["calendar"], safe="")
        ev = urllib.parse.quote(amb["block"]["event_id"], safe="")
        for _email, token in DEMO_ACCOUNTS:  # the account that can write that calendar
            req = urllib.request.Request(
                f"{url.rstrip('/')}/calendar/v3/calendars/{cal}/events/{ev}",
                method="DELETE",
                headers={"Authorization": f"Bearer {token}"},
            )
            try:
                urllib.request.urlopen(req, timeout=30).close()
                break
            except urllib.error.HTTPError:
                continue
    return len(ambiguous)


def _thread_backfill(app: CalsyncApp, plan: PlanView) -> Callable[..., Any]:
    """Before: the backfill as the cockpit ran it, in its thread worker (this process)."""
    backend = app.backend
    assert plan.path is not None
    path = plan.path

    def run(progress: Callable[[int, int, int], None], _cancel: Callable[[], bool]) -> Any:
        def cb(p: Progress) -> None:
            progress(p.done, p.total, p.failed)

        with backend.google:
            return service.backfill(backend.migration_env(), path, progress=cb)

    return run


def _child_backfill(app: CalsyncApp, plan: PlanView) -> Callable[..., Any]:
    """After: what `y` runs now, `Backend.backfill` (the child process)."""
    backend = app.backend

    def run(progress: Callable[[int, int, int], None], cancel: Callable[[], bool]) -> Any:
        return backend.backfill(plan, progress, cancel)

    return run


async def keys_during_backfill(
    root: Path, events: int, seconds: float, mode: str
) -> dict[str, Any]:
    from calsync_tui.commands.demo import demo_world

    with demo_world(root / mode, events=events, in_process=False) as demo:
        home, url = demo.home.root, demo.api_endpoint
        _cli(home, url, "migrate", "discover")
        _cli(home, url, "migrate", "prepare", ok=(0, 1))
        if _resolve_ambiguous(home, url):
            _cli(home, url, "migrate", "discover")
            _cli(home, url, "migrate", "prepare")
        plan_file = root / f"{mode}-plan.json"
        _cli(home, url, "migrate", "plan", "--out", str(plan_file))
        plan = plan_view(read_plan(plan_file))
        plan.path = plan_file
        app = CalsyncApp(home=home, api_endpoint=url, start_engine=False)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("m")
            await wait_until(lambda: isinstance(app.screen, MigrationScreen))
            cockpit = app.screen
            assert isinstance(cockpit, MigrationScreen)
            run = _thread_backfill(app, plan) if mode == "thread" else _child_backfill(app, plan)
            load_before = os.getloadavg()
            cockpit._run("backfill", run)
            await wait_until(
                lambda: app.migration_progress is not None or app.migration_task is None, 600
            )
            if app.migration_progress is None:
                said = cockpit.query_one("#task-rate").render()
                raise SystemExit(f"the {mode} backfill did not start: {said}")
            await pilot.press("e")
            await wait_until(lambda: isinstance(app.screen, EventsScreen), 60)
            nav: list[float] = []
            typing: list[float] = []
            t0 = time.monotonic()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            start_done = (app.migration_progress or (0, 0, 0))[0]
            while app.migration_task == "backfill" and time.monotonic() - t0 < seconds:
                await keys_round(app, nav, typing)
            window = time.monotonic() - t0
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            # the console's own CPU (all its threads; not its children's) in the window
            console_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
            done, total, _failed = app.migration_progress or (0, 0, 0)
            load_after = os.getloadavg()
            if app.migration_task is not None:
                app.backend.set_paused(True)  # stop after its batch; the demo is thrown away
            await app.workers.wait_for_complete()
        return {
            "mode": mode,
            "backfill": (
                "thread of the console (before)"
                if mode == "thread"
                else "child process: migrate backfill --progress-jsonl (after)"
            ),
            "demo_events": events,
            "plan_writes": len(plan.lines),
            "window_s": round(window, 1),
            "writes_in_window": done - start_done,
            "writes_per_s": round((done - start_done) / window, 1) if window else None,
            "done_at_end": f"{done}/{total}",
            "console_cpu_s": round(console_cpu, 1),
            "console_cpu_share": round(console_cpu / window, 2) if window else None,
            "cursor_key_ms": _summary(nav),
            "filter_typing_ms": _summary(typing),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
        }


def _line(r: dict[str, Any]) -> str:
    nav, typ = r["cursor_key_ms"], r["filter_typing_ms"]
    return (
        f"{r['mode']:>6}: cursor p95 {nav['p95']} ms (median {nav['median']}, max {nav['max']}, "
        f"n {nav['n']}); typing p95 {typ['p95']} ms (median {typ['median']}, max {typ['max']}, "
        f"n {typ['n']}); {r['writes_in_window']} writes in {r['window_s']} s "
        f"({r['writes_per_s']}/s) of {r['plan_writes']}; console CPU {r['console_cpu_s']} s "
        f"({r['console_cpu_share']} of a core); load {r['load_average_before'][0]}"
        f" -> {r['load_average_after'][0]}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--events", type=int, default=10_000)
    p.add_argument("--seconds", type=float, default=40.0)
    p.add_argument("--mode", choices=("both", "thread", "child"), default="both")
    args = p.parse_args(argv)
    modes = ("thread", "child") if args.mode == "both" else (args.mode,)
    results = []
    with tempfile.TemporaryDirectory(prefix="calsync-bench-backfill-") as tmp:
        for mode in modes:
            r = asyncio.run(keys_during_backfill(Path(tmp), args.events, args.seconds, mode))
            print(_line(r), flush=True)
            results.append(r)
    out = {"cpus": os.cpu_count(), "results": results}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
