"""A reinstall on the sandbox (real HTTP, real SQLite): a first installation mirrors three
calendars of two accounts; then a second, empty home signs the same accounts in and
enables the same calendars, as a person does on a new laptop or after losing the home.

Both installations are driven through the real CLI in this process (`Reinstall.cli`), and
the first one's `World` stays usable to act as "the other machine, still running"."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from calsync_tui import clock
from calsync_tui.cli import main as cli_main
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import save_settings
from tests.engine.world import World, iter_blocks, when

ANN = "ann@example.com"
BOB = "bob@example.com"
VOLATILE = {"etag", "updated", "sequence"}


@dataclass
class Reinstall:
    sandbox: SandboxServer
    old: World  # the first installation (its home kept, so it can still run)
    new: World  # the second installation: an empty home on the same accounts
    a: str  # ann's work calendar (sources)
    b: str  # ann's personal calendar
    c: str  # bob's calendar (a source too)
    ids: dict[str, str]

    def cli(self, world: World, *argv: str) -> tuple[int, str, str]:
        """The real CLI in this process against `world`'s home and the sandbox."""
        world.ctx.close()  # no second connection of ours beside the command's
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, "--home", str(world.home.root), "--api-endpoint", self.sandbox.url]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(args)
        return code, out.getvalue(), err.getvalue()

    def cli_json(self, world: World, *argv: str, code: int = 0) -> Any:
        got, out, err = self.cli(world, *argv, "--json")
        assert got == code, (argv, got, out, err)
        return json.loads(out)

    def google(self) -> dict[str, list[dict[str, Any]]]:
        """Every live event (series as masters), volatile fields dropped."""
        return {
            cal: sorted(
                (
                    {k: v for k, v in e.items() if k not in VOLATILE}
                    for e in self.sandbox.events(cal)
                ),
                key=lambda e: str(e["id"]),
            )
            for cal in (self.a, self.b, self.c)
        }

    def blocks(self) -> dict[str, list[dict[str, Any]]]:
        return {
            cal: list(iter_blocks(self.sandbox.events(cal))) for cal in (self.a, self.b, self.c)
        }

    def later(self, minutes: int = 5) -> contextlib.AbstractContextManager[None]:
        """Domain time `minutes` on: the first installation last wrote more than one sync
        interval ago (it stopped)."""
        return clock.moved_to(clock.now() + timedelta(minutes=minutes))


def first_install(sb: SandboxServer, root: Path) -> tuple[World, str, str, str, dict[str, str]]:
    old = World(sb, root / "old", requests_per_minute=10_000)
    old.user(ANN)
    old.user(BOB)
    a = old.calendar(ANN, "Work", cal_id=ANN)
    b = old.calendar(ANN, "Personal")
    c = old.calendar(BOB, "Bob", cal_id=BOB)
    ids: dict[str, str] = {}
    for i, name in enumerate(("Standup", "Review", "Lunch")):
        s, e = when(1 + i, hours=9 + i)
        ids[name] = old.put(a, name, start=s, end=e)["id"]
    sw, ew = when(2, hours=15)
    ids["Weekly"] = old.put(
        a,
        "Weekly",
        start={**sw, "timeZone": "UTC"},
        end={**ew, "timeZone": "UTC"},
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )["id"]
    s, e = when(3, hours=16)
    ids["Dentist"] = old.put(c, "Dentist", start=s, end=e)["id"]
    old.enable(a, b, c)
    r = old.sync()
    assert r.failed == 0 and r.mutations["insert"] == 14, r.mutations  # 7 sources x 2 targets
    assert not old.sync().planned
    old.assert_ok()
    save_settings(old.home, old.settings)
    return old, a, b, c, ids


def second_install(sb: SandboxServer, root: Path, old: World, *cals: str) -> World:
    """A new empty home: same accounts signed in (static tokens), same calendars enabled."""
    new = World(sb, root / "new", requests_per_minute=10_000)
    from calsync_tui.google.accounts import register_static_token

    for email, token in old.tokens.items():
        register_static_token(new.home, new.ctx.store, email, token)
        new.tokens[email] = token
    new.enable(*cals)
    save_settings(new.home, new.settings)
    assert new.ctx.installation_id != old.ctx.installation_id
    new.ctx.close()
    return new


@pytest.fixture
def reinstall(tmp_path: Path) -> Iterator[Reinstall]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as sb:
        old, a, b, c, ids = first_install(sb, tmp_path)
        new = second_install(sb, tmp_path, old, a, b, c)
        try:
            yield Reinstall(sb, old, new, a, b, c, ids)
        finally:
            old.close()
            new.close()
            clock.reset()
