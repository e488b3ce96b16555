"""What migration operations need from the outside: store, settings, gateways, clock.

Also the one full read of Google the migration makes (every enabled calendar over the
sync window) and the calendar rows it writes against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session

from calsync_tui import clock
from calsync_tui.engine.calendar_ref import CalendarRef as CalendarRef  # the one type
from calsync_tui.engine.calendar_ref import enabled_calendars as engine_enabled_calendars
from calsync_tui.engine.model import EventClass
from calsync_tui.errors import CalsyncError
from calsync_tui.google.types import Gateway, GoogleEvent
from calsync_tui.home import AppHome
from calsync_tui.migration.linking import CalendarView
from calsync_tui.migration.planner import Inventory, MigrationOptions, build_inventory
from calsync_tui.settings import Settings
from calsync_tui.writes.readback import EventRef, read_events
from local_store.db import Store


@dataclass
class MigrationEnv:
    home: AppHome
    store: Store
    settings: Settings
    installation_id: str
    gateway_for: Callable[[str], Gateway]
    now: Callable[[], datetime] = field(default=clock.now)

    def options(self, legacy_detection: bool = True) -> MigrationOptions:
        return MigrationOptions(
            installation_id=self.installation_id,
            legacy_markers=tuple(self.settings.legacy_markers),
            ignored_event_types=tuple(self.settings.ignored_event_types),
            block_title=self.settings.block_title,
            legacy_detection=legacy_detection,
            settings=self.settings,
        )


def enabled_calendars(session: Session) -> list[CalendarRef]:
    """The engine's enabled calendars (one per Google id, the best access role winning
    across accounts: `engine.calendar_ref`), in Google id order."""
    return sorted(engine_enabled_calendars(session.connection()), key=lambda c: c.google_id)


def require_calendars(session: Session, scope: str | None = None) -> list[CalendarRef]:
    cals = enabled_calendars(session)
    if not cals:
        raise CalsyncError("no enabled calendars: run `calendars list` and `calendars enable ID`")
    if scope is not None and scope not in {c.google_id for c in cals}:
        raise CalsyncError(f"calendar {scope!r} is not an enabled calendar")
    return cals


def window(env: MigrationEnv) -> tuple[str, str]:
    now = env.now()
    lo = now - timedelta(days=env.settings.window_days_back)
    hi = now + timedelta(days=env.settings.window_days_ahead)
    return lo.strftime("%Y-%m-%dT%H:%M:%SZ"), hi.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Snapshot:
    """One full read: the inventory plus API cost of reading it."""

    calendars: list[CalendarRef]
    inventory: Inventory
    api_calls: int


def read_snapshot(
    env: MigrationEnv, cals: Sequence[CalendarRef], *, with_masters: bool = False
) -> Snapshot:
    """List every event of every enabled calendar (full listing, no sync token).

    With `with_masters`, series masters of unstamped recurring sources are fetched once
    each, so a plan can journal their prior state and fingerprint them.
    """
    time_min, time_max = window(env)
    views: list[CalendarView] = []
    before = _units(env, cals)
    for c in cals:
        page = env.gateway_for(c.email).list_events(
            c.google_id, sync_token=None, time_min=time_min, time_max=time_max
        )
        owners = frozenset({c.email, c.google_id})
        views.append(CalendarView(c.google_id, c.summary, c.access_role, page.events, owners))
    inv = build_inventory(views, env.options())
    if with_masters:
        # series masters of unstamped recurring sources: one batched get each
        email_of = {c.google_id: c.email for c in cals}
        wanted: dict[str, dict[str, EventRef]] = {}
        for item in inv.items:
            master = item.event.get("recurringEventId")
            if item.cls != EventClass.NEW_USER_EVENT or not master:
                continue
            key = f"{item.calendar}\x1f{master}"
            refs = wanted.setdefault(email_of[item.calendar], {})
            refs.setdefault(key, EventRef(key, item.calendar, str(master)))
        masters: dict[tuple[str, str], GoogleEvent] = {}
        for email, by_key in wanted.items():
            results = read_events(
                env.gateway_for(email), list(by_key.values()), batch_size=env.settings.batch_size
            )
            for res in results.values():
                cal, master_id = res.key.split("\x1f", 1)
                if not res.ok or res.event is None:
                    raise CalsyncError(
                        f"series {master_id} on {cal} could not be read "
                        f"({res.status} {res.reason or ''}); try again"
                    )
                masters[(cal, master_id)] = res.event
        inv.masters = masters  # only stamping and the fingerprint read them
    return Snapshot(list(cals), inv, _units(env, cals) - before)


def _units(env: MigrationEnv, cals: Sequence[CalendarRef]) -> int:
    return sum(env.gateway_for(e).counter.units for e in {c.email for c in cals})
