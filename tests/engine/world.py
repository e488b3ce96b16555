"""Test harness: a real home + SQLite store + static-token accounts on the sandbox.

`World` drives the real engine (run_cycle) through the real gateway over HTTP, and
checks the invariants against the sandbox's truth read back through the API.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from calsync_tui import clock
from calsync_tui.context import AppContext
from calsync_tui.engine.calendars import refresh_calendars, set_enabled
from calsync_tui.engine.cycle import CycleReport, run_cycle
from calsync_tui.engine.invariants import Violation, check_google, check_state
from calsync_tui.engine.model import EngineMode
from calsync_tui.google.accounts import open_gateway, register_static_token
from calsync_tui.google.types import GoogleEvent
from calsync_tui.home import AppHome
from calsync_tui.settings import load_settings
from local_store.models import Calendar, EventState

_tokens = itertools.count(1)


def when(
    days: float = 1,
    hours: float = 10,
    minutes: int = 0,
    length_min: int = 60,
    tz: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """start/end dicts `days` from today at `hours` UTC."""
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = base + timedelta(days=days, hours=hours, minutes=minutes)
    end = start + timedelta(minutes=length_min)
    s = {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ")}
    e = {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if tz:
        s["timeZone"] = tz
        e["timeZone"] = tz
    return s, e


class World:
    def __init__(self, sandbox: Any, root: Path, **settings: Any) -> None:
        self.sandbox = sandbox
        self.home = AppHome(root / "home").ensure()
        self.settings = load_settings(self.home, sandbox.url)
        # Tiny backoff so fault tests take milliseconds, not Google-sized pauses.
        self.settings.extra = {"backoff_base": 0.005, "backoff_cap": 0.05, "quota_pause": 0.05}
        for k, v in settings.items():
            setattr(self.settings, k, v)
        self.ctx = AppContext(self.home, self.settings)
        self.owner_of: dict[str, str] = {}
        self.tokens: dict[str, str] = {}

    def close(self) -> None:
        self.ctx.close()

    # --- setup -----------------------------------------------------------------------

    def user(self, email: str) -> str:
        token = f"tok-{next(_tokens)}-{email}"
        self.sandbox.add_user(email, token)
        register_static_token(self.home, self.ctx.store, email, token)
        self.tokens[email] = token
        return email

    def calendar(self, owner: str, summary: str, tz: str = "UTC", cal_id: str | None = None) -> str:
        cid: str = self.sandbox.create_calendar(owner, summary, tz, cal_id)
        self.owner_of[cid] = owner
        return cid

    def enable(self, *cal_ids: str) -> None:
        refresh_calendars(self.ctx.store, self.ctx.gateway_for)
        set_enabled(self.ctx.store, list(cal_ids), True)

    def disable(self, *cal_ids: str) -> None:
        set_enabled(self.ctx.store, list(cal_ids), False)

    def put(
        self,
        cal_id: str,
        summary: str,
        *,
        start: dict[str, str] | None = None,
        end: dict[str, str] | None = None,
        **extra: Any,
    ) -> GoogleEvent:
        if start is None or end is None:
            start, end = when()
        body = {"summary": summary, "start": start, "end": end, **extra}
        event: GoogleEvent = self.sandbox.put_event(cal_id, body)
        return event

    # --- running ---------------------------------------------------------------------

    def sync(self, *, dry_run: bool = False) -> CycleReport:
        return run_cycle(self.ctx, dry_run=dry_run)

    def gateway(self, email: str) -> Any:
        return open_gateway(self.home, self.settings, email)

    def enabled(self) -> list[Calendar]:
        """Enabled calendars, one per Google id (the best role), as the engine picks them."""
        rank = {"owner": 0, "writer": 1, "reader": 2}
        with self.ctx.store.session() as s:
            rows = list(s.exec(select(Calendar).where(Calendar.enabled.is_(True))).scalars())  # type: ignore[attr-defined,call-overload]
        best: dict[str, Calendar] = {}
        for c in sorted(rows, key=lambda c: c.id or 0):
            if c.access_role not in rank:
                continue
            cur = best.get(c.google_id)
            if cur is None or rank[c.access_role] < rank[cur.access_role]:
                best[c.google_id] = c
        return list(best.values())

    def truth(self) -> dict[str, list[GoogleEvent]]:
        """Every enabled calendar's events in the window, read back through the API."""
        now = clock.now()
        out: dict[str, list[GoogleEvent]] = {}
        for cal in self.enabled():
            email = self.email_of(cal.account_id)
            gw = self.gateway(email)
            page = gw.list_events(
                cal.google_id,
                sync_token=None,
                time_min=(now - timedelta(days=self.settings.window_days_back)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                time_max=(now + timedelta(days=self.settings.window_days_ahead)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            )
            out[cal.google_id] = [e for e in page.events if e.get("status") != "cancelled"]
        return out

    def email_of(self, account_id: int) -> str:
        from local_store.models import Account

        with self.ctx.store.session() as s:
            acc = s.get(Account, account_id)
            assert acc is not None
            return acc.email

    def blocks_on(self, cal_id: str) -> list[GoogleEvent]:
        return [
            e
            for e in self.truth()[cal_id]
            if (e.get("extendedProperties") or {}).get("private", {}).get("calsync_type")
            == "busy_block"
        ]

    def violations(self) -> list[Violation]:
        truth = self.truth()
        cals = self.enabled()
        writable = {c.google_id for c in cals if c.access_role in ("owner", "writer")}
        modes = {c.google_id: EngineMode(c.engine_mode) for c in cals}
        out = check_google(
            truth,
            writable=writable,
            installation_id=self.ctx.installation_id,
            settings=self.settings,
            now=clock.now(),
            modes=modes,
        )
        with self.ctx.store.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(EventState.__table__)).mappings()]  # type: ignore[attr-defined]
        by_local = {c.id: (c.google_id, truth[c.google_id]) for c in cals if c.id is not None}
        now = clock.now()
        window = (
            now - timedelta(days=self.settings.window_days_back),
            now + timedelta(days=self.settings.window_days_ahead),
        )
        out += check_state([r for r in rows if r["calendar_id"] in by_local], by_local, window)
        return out

    def assert_ok(self) -> None:
        bad = self.violations()
        assert not bad, "\n".join(str(v) for v in bad)


def iter_blocks(events: list[GoogleEvent]) -> Iterator[GoogleEvent]:
    for e in events:
        if (e.get("extendedProperties") or {}).get("private", {}).get(
            "calsync_type"
        ) == "busy_block":
            yield e
