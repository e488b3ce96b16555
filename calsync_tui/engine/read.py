"""Stage 1, read: one listing per enabled calendar (incremental with its sync token, full
on the first run and after 410), through one gateway per account.

An account that cannot be used (needs sign-in, no token) is skipped for the whole cycle;
a calendar whose listing fails keeps its error for the calendar row. Nothing here
classifies or touches EventState.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlalchemy import update

from calsync_tui.engine.calendar_ref import EnabledCalendar
from calsync_tui.engine.classify import legacy_suffix
from calsync_tui.engine.events import CalendarRead, EventSink, emit
from calsync_tui.engine.fields import title_of
from calsync_tui.engine.model import EngineMode
from calsync_tui.engine.window import Cursor
from calsync_tui.engine.window import Window as Window  # re-exported (adopt.py)
from calsync_tui.errors import CalsyncError
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.types import EventPage, Gateway, GoogleEvent
from local_store.models import Account

_ACC = Account.__table__  # type: ignore[attr-defined]


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Gateways:
    """One gateway per account for the cycle, the accounts that cannot be used, and the
    API calls spent since each gateway was first used."""

    def __init__(
        self,
        gateway_for: Callable[[str], Gateway],
        store: object,
        *,
        dry_run: bool,
        now: Callable[[], datetime],
    ) -> None:
        self._gateway_for = gateway_for
        self._store = store
        self._dry_run = dry_run
        self._now = now
        self.gateways: dict[str, Gateway] = {}
        self.counters_before: dict[str, tuple[int, int]] = {}
        self.unavailable: dict[str, str] = {}
        self.needs_signin: list[str] = []
        self.errors: list[str] = []

    def __call__(self, email: str) -> Gateway | None:
        if email in self.unavailable:
            return None
        if email not in self.gateways:
            try:
                gw = self._gateway_for(email)
            except CalsyncError as exc:
                self.account_failed(email, exc)
                return None
            self.gateways[email] = gw
            self.counters_before[email] = (gw.counter.units, gw.counter.round_trips)
        return self.gateways[email]

    def account_failed(self, email: str, exc: CalsyncError) -> None:
        self.unavailable[email] = str(exc)
        if isinstance(exc, NeedsSignIn):
            self.needs_signin.append(email)
            if not self._dry_run:
                with self._store.engine.begin() as conn:  # type: ignore[attr-defined]
                    conn.execute(
                        update(_ACC)
                        .where(_ACC.c.email == email)
                        .values(needs_signin=True, signin_error=exc.reason, updated_at=self._now())
                    )
        self.errors.append(str(exc))

    def usable(self) -> dict[str, Gateway]:
        return {e: g for e, g in self.gateways.items() if e not in self.unavailable}

    def spent(self) -> tuple[int, int]:
        """(quota units, round trips) used through these gateways in this cycle."""
        units = trips = 0
        for email, gw in self.gateways.items():
            u0, t0 = self.counters_before.get(email, (0, 0))
            units += gw.counter.units - u0
            trips += gw.counter.round_trips - t0
        return units, trips


@dataclass
class Listing:
    """One calendar's read: the page (None when it could not be read), the events of the
    newly reached slice of the window (window.py), the cursor to store, and its error."""

    cal: EnabledCalendar
    page: EventPage | None = None
    error: str | None = None
    cursor: Cursor = field(default_factory=Cursor)
    sliced: list[GoogleEvent] = field(default_factory=list)
    slice_listed: bool = False
    slice_span: tuple[datetime, datetime] | None = None  # the slice's [timeMin, timeMax)
    held: str | None = None  # the mass-deletion guard kept this listing back (guard.py)

    @property
    def events(self) -> list[GoogleEvent]:
        if self.page is None:
            return []
        return self.page.events + self.sliced if self.sliced else self.page.events

    @property
    def full(self) -> bool:
        return self.page is not None and self.page.full


@dataclass
class ReadResult:
    listings: list[Listing] = field(default_factory=list)
    events_listed: int = 0

    def read(self) -> list[Listing]:
        """Listings that came back (a page to apply)."""
        return [x for x in self.listings if x.page is not None]

    @property
    def all_incremental(self) -> bool:
        """Every calendar read with its token and nothing more (no full, no slice)."""
        return all(
            x.page is not None and not x.page.full and not x.slice_listed for x in self.listings
        )

    @property
    def slices(self) -> int:
        return sum(1 for x in self.listings if x.slice_listed)


def read_calendars(
    cals: Sequence[EnabledCalendar],
    gateways: Gateways,
    window: Window,
    *,
    legacy_markers: tuple[str, ...],
    on_event: EventSink | None,
) -> ReadResult:
    out = ReadResult()
    for cal in cals:
        listing = Listing(cal)
        out.listings.append(listing)
        gw = gateways(cal.ref.account)
        if gw is None:
            listing.error = gateways.unavailable.get(cal.ref.account)
            continue
        cursor = Cursor.decode(cal.sync_token)
        try:
            page = gw.list_events(
                cal.ref.google_id,
                sync_token=cursor.sync_token,
                time_min=iso(window.start),
                time_max=iso(window.horizon),
            )
            listing.cursor = Cursor(page.next_sync_token, window.horizon)
            span = None if page.full else cursor.slice_to_list(window)
            if span is not None:
                # The window slid (or grew) past what was listed: list just that slice.
                part = gw.list_events(
                    cal.ref.google_id, sync_token=None, time_min=iso(span[0]), time_max=iso(span[1])
                )
                listing.sliced = [e for e in part.events if e.get("status") != "cancelled"]
                listing.slice_listed = True
                listing.slice_span = span
            elif not page.full:
                listing.cursor = Cursor(page.next_sync_token, cursor.listed_until)
        except CalsyncError as exc:
            if isinstance(exc, NeedsSignIn):
                gateways.account_failed(cal.ref.account, exc)
            else:
                gateways.errors.append(f"{cal.ref.google_id}: {exc}")
                listing.error = str(exc)
            emit(on_event, CalendarRead(cal.ref.google_id, 0, False, str(exc)))
            continue
        listing.page = page
        out.events_listed += len(listing.events)
        emit(on_event, CalendarRead(cal.ref.google_id, len(listing.events), page.full))
        if (
            cal.first_run
            and cal.ref.mode == EngineMode.UUID
            and _has_legacy_blocks(page.events, legacy_markers)
        ):
            # A calendar's first cycle stays legacy while legacy blocks exist.
            listing.cal = replace(cal, ref=replace(cal.ref, mode=EngineMode.LEGACY))
    return out


def _has_legacy_blocks(events: list[GoogleEvent], markers: tuple[str, ...]) -> bool:
    for e in events:
        if e.get("status") == "cancelled":
            continue
        ext = e.get("extendedProperties")
        priv = ext.get("private") if isinstance(ext, dict) else None
        if isinstance(priv, dict) and any(str(k).startswith("calsync_") for k in priv):
            continue
        if legacy_suffix(title_of(e), markers) is not None:
            return True
    return False
