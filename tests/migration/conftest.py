"""A legacy-mess world on the sandbox (real HTTP, real SQLite) for the migration tests.

Built by hand so every expected number is known: two accounts, three calendars, legacy
blocks (linked, duplicate, cascade, orphan, moved), a recurring series mirrored per
instance, and blocks missing on one calendar.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from calsync_tui.cli import main as cli_main
from calsync_tui.engine.calendars import refresh_calendars, set_enabled
from calsync_tui.google.accounts import register_static_token
from calsync_tui.migration.env import MigrationEnv
from calsync_tui.sandbox.demo import DEMO_ACCOUNTS, DemoTruth, build_demo
from calsync_tui.sandbox.server import SandboxServer
from local_store.models import Calendar
from tests.engine.world import World, when

VOLATILE = {"etag", "updated", "sequence"}


@dataclass
class Mess:
    world: World
    a: str  # ann's work calendar (sources)
    b: str  # bob's calendar (legacy blocks + a source)
    c: str  # ann's side calendar (some legacy blocks, some missing)
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def sandbox(self) -> SandboxServer:
        s: SandboxServer = self.world.sandbox
        return s

    def env(self) -> MigrationEnv:
        ctx = self.world.ctx
        return MigrationEnv(ctx.home, ctx.store, ctx.settings, ctx.installation_id, ctx.gateway_for)

    def cli(self, *argv: str) -> tuple[int, str, str]:
        """Run the real CLI in-process against this home and sandbox."""
        out, err = io.StringIO(), io.StringIO()
        args = [*argv, "--home", str(self.world.home.root), "--api-endpoint", self.sandbox.url]
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli_main(args)
        return code, out.getvalue(), err.getvalue()

    def start_backfill(self, plan: Path) -> subprocess.Popen[str]:
        """`migrate backfill --plan PLAN --yes` as a child process, stderr piped (progress
        lines). Our own store connection is closed first: a second connection beside the
        child would share and drop its POSIX locks."""
        self.world.ctx.close()
        cmd = [sys.executable, "-m", "calsync_tui", "migrate", "backfill", "--plan", str(plan)]
        cmd += ["--yes", "--home", str(self.world.home.root), "--api-endpoint", self.sandbox.url]
        env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
        return subprocess.Popen(
            cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env, text=True
        )

    def cli_json(self, *argv: str) -> Any:
        code, out, err = self.cli(*argv, "--json")
        assert code == 0, err
        return json.loads(out)

    def google(self) -> dict[str, list[dict[str, Any]]]:
        """Every live event on every calendar (series as masters), volatile fields dropped."""
        out = {}
        for cal in (self.a, self.b, self.c):
            events = self.sandbox.events(cal)
            out[cal] = sorted(
                ({k: v for k, v in e.items() if k not in VOLATILE} for e in events),
                key=lambda e: str(e["id"]),
            )
        return out


def build_mess(world: World) -> Mess:
    world.user("ann@example.com")
    world.user("bob@example.com")
    a = world.calendar("ann@example.com", "Work", cal_id="ann@example.com")
    c = world.calendar("ann@example.com", "Side")
    b = world.calendar("bob@example.com", "Bob", cal_id="bob@example.com")
    world.enable(a, b, c)
    m = Mess(world, a, b, c)
    s1, e1 = when(1, hours=10)
    s2, e2 = when(2, hours=12)
    s2m, e2m = when(2, hours=13)
    s3, e3 = when(3, hours=9)
    m.ids["standup"] = world.put(a, "Standup", start=s1, end=e1)["id"]
    m.ids["lunch"] = world.put(a, "Lunch", start=s2, end=e2)["id"]
    sw, ew = when(1, hours=15)
    weekly = world.put(
        a,
        "Weekly",
        start={**sw, "timeZone": "UTC"},
        end={**ew, "timeZone": "UTC"},
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=3"],
    )
    m.ids["weekly"] = weekly["id"]
    world.put(a, "Gym", start=s3, end=e3, transparency="transparent")
    m.ids["dentist"] = world.put(b, "Dentist", start=s3, end=e3)["id"]
    m.ids["b_standup"] = world.put(b, "🔒 Busy - Standup", start=s1, end=e1)["id"]
    m.ids["b_standup_dup"] = world.put(b, "🔒 Busy - Standup", start=s1, end=e1)["id"]
    m.ids["b_cascade"] = world.put(b, "🔒 Busy - 🔒 Busy - Dentist", start=s3, end=e3)["id"]
    m.ids["b_orphan"] = world.put(b, "📅 Busy - Gone meeting", start=s2, end=e2)["id"]
    m.ids["b_lunch_moved"] = world.put(b, "🔒 Busy - Lunch", start=s2m, end=e2m)["id"]
    for week in range(3):
        ws, we = when(1 + 7 * week, hours=15)
        m.ids[f"b_weekly{week}"] = world.put(b, "🔒 Busy - Weekly", start=ws, end=we)["id"]
    m.ids["c_standup"] = world.put(c, "🔒 Busy - Standup", start=s1, end=e1)["id"]
    return m


@pytest.fixture
def mess(tmp_path: Path) -> Iterator[Mess]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        w = World(srv, tmp_path, requests_per_minute=10_000)
        try:
            yield build_mess(w)
        finally:
            w.close()


class Demo(Mess):
    truth: DemoTruth
    cals: list[str]

    def google(self) -> dict[str, list[dict[str, Any]]]:
        out = {}
        for cal in self.cals:
            out[cal] = sorted(
                (
                    {k: v for k, v in e.items() if k not in VOLATILE}
                    for e in self.sandbox.events(cal)
                ),
                key=lambda e: str(e["id"]),
            )
        return out


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    with SandboxServer(quota_per_user=None, quota_per_project=None) as srv:
        # The truth is counted over the window around `now`, discover reads around the
        # real clock a second later: an hour-rounded `now` sits on the demo's 15-minute
        # grid, so an event starting exactly at the rounded edge (now + 90 days) would be
        # counted by discover and not by the truth for the rest of that hour.
        now = datetime.now(UTC)
        truth = build_demo(srv, seed=7, events=400, now=now)
        w = World(srv, tmp_path, requests_per_minute=10_000)
        w.home.config_path.write_text('{"requests_per_minute": 10000}')
        try:
            for email, token in DEMO_ACCOUNTS:
                register_static_token(w.home, w.ctx.store, email, token)
            refresh_calendars(w.ctx.store, w.ctx.gateway_for)
            cals = sorted(truth.calendars)
            set_enabled(w.ctx.store, cals, True)
            with w.ctx.store.session() as s:  # a free/busy-only view is never read
                for row in s.exec(select(Calendar).where(Calendar.access_role == "freeBusyReader")):
                    row.enabled = False
                    s.add(row)
                s.commit()
            d = Demo(w, "", "", "")
            d.truth = truth
            d.cals = cals
            yield d
        finally:
            w.close()
