"""Render each console screen of the demo to SVG (and PNG when a converter exists).

`python -m screenshots.make` (or `make screenshots`): starts the sandbox demo world in a
temporary home, runs one sync cycle, walks the screens by keyboard through Pilot at
120x40 and saves `screenshots/<screen>.svg`.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

import contextlib

from textual.pilot import Pilot
from textual.worker import WorkerFailed

from calsync_tui.app import CalsyncApp
from calsync_tui.commands.demo import demo_world

OUT = Path(__file__).parent
SIZE = (120, 40)
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

Step = Callable[[Pilot[Any]], Awaitable[None]]


async def _settle(pilot: Pilot[Any]) -> None:
    """Wait for workers; a failed one has already become a notification in the app."""
    with contextlib.suppress(WorkerFailed):
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def _keys(pilot: Pilot[Any], *keys: str) -> None:
    await pilot.press(*keys)
    await _settle(pilot)


def _stable_ids(svg: Path) -> None:
    """Textual names an SVG's CSS classes after a hash of its content (`terminal-123-r1`);
    a live run's figures (a cycle's duration) change it every run. One fixed name keeps
    the diff of a refresh down to what the screen shows."""
    text = svg.read_text()
    svg.write_text(re.sub(r"terminal-\d+-", "terminal-calsync-", text))


def _png(svg: Path) -> Path | None:
    """Convert with rsvg-convert or cairosvg when present; None when neither is."""
    png = svg.with_suffix(".png")
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "-o", str(png), str(svg)], check=True)
        return png
    try:
        import cairosvg  # type: ignore[import-not-found]
    except ImportError:
        return None
    cairosvg.svg2png(url=str(svg), write_to=str(png))
    return png


async def first_look(home: Path, api: str) -> Path:
    """A home that never synced: the console's dry run, waiting for `s` (the launch rule)."""
    app = CalsyncApp(home=home, api_endpoint=api)
    async with app.run_test(size=SIZE) as pilot:
        await _settle(pilot)
        app.save_screenshot(filename="dashboard-first-look.svg", path=str(OUT))
    _stable_ids(OUT / "dashboard-first-look.svg")
    return OUT / "dashboard-first-look.svg"


async def shoot(home: Path, api: str) -> list[Path]:
    made: list[Path] = [await first_look(home, api)]
    app = CalsyncApp(home=home, api_endpoint=api, start_engine=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_sync_now()
        await _settle(pilot)

        async def save(name: str) -> None:
            await pilot.pause()
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            _stable_ids(path)
            made.append(path)

        await save("dashboard")
        await _keys(pilot, "e")
        await save("events")
        await _keys(pilot, "slash", *"Busy", "enter")
        await save("events-filtered")
        await _keys(pilot, "enter")
        await save("lineage")
        await _keys(pilot, "escape")
        await _keys(pilot, "m", "v")
        await save("migration-discover")
        await _keys(pilot, "p")
        await _keys(pilot, "down")
        await save("migration-plan-review")
        await _keys(pilot, "y")
        await save("migration-approve")
        await _keys(pilot, "y")
        await save("migration-backfill-done")
        await _keys(pilot, *["plus"] * 10, "o", "y")
        await save("migration-rollout")
        app.action_sync_now()  # a hybrid cycle: the outside invitation's refused stamp is held
        await _settle(pilot)
        await _keys(pilot, "2")
        await save("rollback-confirm")
        await _keys(pilot, "n", "j")
        await save("journal")
        await _keys(pilot, "a")
        await save("alerts")
        await _keys(pilot, "u")
        await save("accounts")
        await _keys(pilot, "question_mark")
        await save("help")
        await _keys(pilot, "escape", "d", "t")
        await save("dashboard-light")
    return made


def _invitation(server: Any) -> None:
    """An accepted invitation whose organizer is outside the account and lets guests change
    nothing (Google's default): real Google refuses a guest's stamp of it (403
    forbiddenForNonOrganizer), so the Alerts screen shows a remembered refusal and what to
    do about it. The event is still mirrored."""
    from datetime import timedelta

    from calsync_tui.sandbox.demo import WORK

    start = NOW + timedelta(days=3, hours=6)
    server.invite(
        WORK,
        {
            "summary": "Partner roadmap review",
            "start": {"dateTime": start.isoformat()},
            "end": {"dateTime": (start + timedelta(hours=1)).isoformat()},
        },
        organizer="pm@partner.example",
    )


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="calsync-shots-"))
    try:
        with demo_world(tmp / "home", seed=7, events=400, now=NOW) as demo:
            _invitation(demo.server)
            made = asyncio.run(shoot(demo.home.root, demo.api_endpoint))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for svg in made:
        png = _png(svg)
        print(svg.relative_to(OUT.parent), f"+ {png.name}" if png else "(no PNG converter)")


if __name__ == "__main__":
    main()
