"""Other installations' markers on the enabled calendars: the one reader behind every
notice (`sync --dry-run`, `status`, `migrate discover`, the console's dashboard) and the
input of adoption (`engine.adopt`).

An event stamped or made by another calsync installation is classified
`external_calsync` (never touched, never a source). Classification exposes that
installation's markers (`classify.foreign_markers`); the cycle stores them on the
EventState row (`foreign_*` columns). This module turns them into one summary per
installation: how many user-event stamps and busy blocks, on which calendars, when it
last wrote, whether it may still be running, and what to do. It never lists Google: it
reads stored rows, a cycle's rows, or events another reader has already classified.

"When it last wrote" is the newest `updated` among its busy blocks (only an installation
writes its blocks; a person editing a stamped event also moves that event's `updated`),
or among its stamps when it has no block.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from calsync_tui.engine.model import EventClass, EventType, Status

_CLASS_EXTERNAL = str(EventClass.EXTERNAL_CALSYNC)
_OUR_BLOCKS = (str(EventClass.BUSY_BLOCK), str(EventClass.ORPHANED_BLOCK))


@dataclass(frozen=True)
class Marker:
    """One event of another installation on an enabled calendar."""

    calendar_id: int  # local Calendar row id
    calendar: str  # Google calendar id
    google_event_id: str
    instance: str
    kind: str  # user_event | busy_block
    marker_id: str | None  # its calsync_id (a user event: its source id as it used it)
    source: str | None  # busy block: calsync_source
    updated: datetime | None
    recurring_event_id: str | None = None


def parse_updated(value: Any) -> datetime | None:
    """Google's `updated` (RFC 3339, `Z`) or a stored datetime, as an aware value."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def foreign_columns(cls: Any) -> dict[str, str | None]:
    """EventState `foreign_*` values for one classification (None unless external)."""
    extra: Mapping[str, str] = getattr(cls, "extra", {}) or {}
    external = getattr(cls, "event_class", None) == EventClass.EXTERNAL_CALSYNC
    return {
        "foreign_instance": (extra.get("instance") or None) if external else None,
        "foreign_type": (extra.get("type") or None) if external else None,
        "foreign_id": (extra.get("id") or None) if external else None,
        "foreign_source": (extra.get("source") or None) if external else None,
    }


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%SZ") if value else "unknown"


@dataclass(frozen=True)
class ForeignInstallation:
    """What one other installation left on your enabled calendars."""

    installation_id: str
    stamps: int  # user events it stamped
    blocks: int  # busy blocks it made
    calendars: dict[str, dict[str, int]]  # Google calendar id -> {"stamps", "blocks"}
    last_wrote: datetime | None
    newest_updated: datetime | None  # among stamps and blocks
    unsourced_blocks: int  # blocks whose source is not a stamp of it on your enabled calendars
    recent: bool  # wrote within the last sync interval (it may still be running)
    concurrent: bool  # wrote after this installation's last write (both running?)
    own_last_write: datetime | None
    interval_seconds: int
    markers: tuple[Marker, ...] = field(default=(), repr=False, compare=False)

    @property
    def adoptable_sources(self) -> frozenset[str]:
        return frozenset(
            m.marker_id for m in self.markers if m.kind == EventType.USER_EVENT and m.marker_id
        )

    def refusals(self) -> list[str]:
        """Why `adopt` refuses this installation without `--force` (empty: it may)."""
        out = []
        if self.recent:
            out.append(
                f"installation {self.installation_id} wrote at {_when(self.last_wrote)}, within "
                f"the last sync interval ({self.interval_seconds} s): it may still be running "
                "on another machine; stop it there, wait one interval, or use --force"
            )
        if self.concurrent:
            out.append(
                f"installation {self.installation_id} wrote at {_when(self.last_wrote)}, after "
                f"this installation's last write ({_when(self.own_last_write)}): two "
                "installations are running against the same calendars; stop the other one "
                "(or use --force)"
            )
        return out

    def advice(self) -> str:
        if self.concurrent:
            return (
                "two installations are running against the same calendars: stop the other "
                "one, then: calsync-tui adopt --installation "
                f"{self.installation_id} --dry-run"
            )
        return (
            "never touched and never mirrored by this installation; if it was yours (a "
            "new machine, a lost home), take them over: calsync-tui adopt --installation "
            f"{self.installation_id} --dry-run, then --yes (or import its home: "
            "calsync-tui home import FILE)"
        )

    def lines(self) -> list[str]:
        """Text for people (every face prints these)."""
        cals = ", ".join(
            f"{cal} ({c['stamps']} stamps, {c['blocks']} blocks)"
            for cal, c in sorted(self.calendars.items())
        )
        out = [
            f"another installation {self.installation_id}: {self.stamps} stamped events and "
            f"{self.blocks} busy blocks on {cals}; last wrote {_when(self.last_wrote)}"
        ]
        if self.unsourced_blocks:
            out.append(
                f"  {self.unsourced_blocks} of its blocks have no source on your enabled "
                "calendars (not adopted without --force)"
            )
        out.extend(f"  {r}" for r in self.refusals())
        out.append(f"  what to do: {self.advice()}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "installation_id": self.installation_id,
            "stamps": self.stamps,
            "blocks": self.blocks,
            "calendars": [
                {"calendar": cal, **counts} for cal, counts in sorted(self.calendars.items())
            ],
            "last_wrote": self.last_wrote.isoformat() if self.last_wrote else None,
            "newest_updated": self.newest_updated.isoformat() if self.newest_updated else None,
            "unsourced_blocks": self.unsourced_blocks,
            "recent": self.recent,
            "concurrent": self.concurrent,
            "own_last_write": self.own_last_write.isoformat() if self.own_last_write else None,
            "refusals": self.refusals(),
            "advice": self.advice(),
        }


def summarize(
    markers: Iterable[Marker],
    *,
    own_last_write: datetime | None,
    interval_seconds: int,
    now: datetime,
) -> list[ForeignInstallation]:
    """One summary per other installation, the most blocks first."""
    by_instance: dict[str, list[Marker]] = {}
    for m in markers:
        if m.instance:
            by_instance.setdefault(m.instance, []).append(m)
    out = []
    since = now - timedelta(seconds=interval_seconds)
    for instance, ms in by_instance.items():
        cals: dict[str, dict[str, int]] = {}
        sources = {m.marker_id for m in ms if m.kind == EventType.USER_EVENT and m.marker_id}
        for m in ms:
            c = cals.setdefault(m.calendar, {"stamps": 0, "blocks": 0})
            c["blocks" if m.kind == EventType.BUSY_BLOCK else "stamps"] += 1
        blocks = [m for m in ms if m.kind == EventType.BUSY_BLOCK]
        stamps = [m for m in ms if m.kind != EventType.BUSY_BLOCK]
        block_times = [m.updated for m in blocks if m.updated]
        all_times = [m.updated for m in ms if m.updated]
        last = max(block_times) if block_times else (max(all_times) if all_times else None)
        out.append(
            ForeignInstallation(
                installation_id=instance,
                stamps=len(stamps),
                blocks=len(blocks),
                calendars=cals,
                last_wrote=last,
                newest_updated=max(all_times) if all_times else None,
                unsourced_blocks=sum(1 for m in blocks if m.source not in sources),
                recent=last is not None and last >= since,
                concurrent=last is not None
                and own_last_write is not None
                and last > own_last_write,
                own_last_write=own_last_write,
                interval_seconds=interval_seconds,
                markers=tuple(ms),
            )
        )
    out.sort(key=lambda f: (-f.blocks, -f.stamps, f.installation_id))
    return out


def markers_from_rows(
    rows: Iterable[Mapping[str, Any]], calendars: Mapping[int, str]
) -> list[Marker]:
    """Markers of stored (or a cycle's) EventState rows on these calendars."""
    out = []
    for r in rows:
        cal = calendars.get(r["calendar_id"])
        if (
            cal is None
            or r.get("event_class") != _CLASS_EXTERNAL
            or not r.get("foreign_instance")
            or r.get("status") == str(Status.DELETED)
        ):
            continue
        out.append(
            Marker(
                calendar_id=int(r["calendar_id"]),
                calendar=cal,
                google_event_id=str(r["google_event_id"]),
                instance=str(r["foreign_instance"]),
                kind=str(r.get("foreign_type") or EventType.USER_EVENT),
                marker_id=r.get("foreign_id"),
                source=r.get("foreign_source"),
                updated=parse_updated(r.get("google_updated")),
                recurring_event_id=r.get("recurring_event_id"),
            )
        )
    return out


def own_last_write_of_rows(rows: Iterable[Mapping[str, Any]]) -> datetime | None:
    """Newest `updated` among this installation's live busy blocks."""
    times = [
        parse_updated(r.get("google_updated"))
        for r in rows
        if r.get("event_class") in _OUR_BLOCKS and r.get("status") != str(Status.DELETED)
    ]
    found = [t for t in times if t is not None]
    return max(found) if found else None


def summarize_rows(
    rows: Iterable[Mapping[str, Any]],
    calendars: Mapping[int, str],
    *,
    interval_seconds: int,
    now: datetime,
) -> list[ForeignInstallation]:
    """The summary over EventState rows (a cycle's, or the store's) of these calendars."""
    rows = [r for r in rows if r["calendar_id"] in calendars]
    return summarize(
        markers_from_rows(rows, calendars),
        own_last_write=own_last_write_of_rows(rows),
        interval_seconds=interval_seconds,
        now=now,
    )


def read_foreign(store: Any, *, interval_seconds: int, now: datetime) -> list[ForeignInstallation]:
    """The summary over the store's rows of the enabled calendars (status, dashboard).

    Two narrow queries: external rows, and the newest `updated` of our blocks."""
    with store.engine.connect() as conn:
        return read_foreign_conn(conn, interval_seconds=interval_seconds, now=now)


def read_foreign_conn(
    conn: Any, *, interval_seconds: int, now: datetime
) -> list[ForeignInstallation]:
    """`read_foreign` on an open connection (the console reads through its session's)."""
    from local_store.models import Calendar, EventState

    es = EventState.__table__  # type: ignore[attr-defined]
    cal = Calendar.__table__  # type: ignore[attr-defined]
    calendars = {
        int(r[0]): str(r[1])
        for r in conn.execute(select(cal.c.id, cal.c.google_id).where(cal.c.enabled.is_(True)))
    }
    if not calendars:
        return []
    ids = list(calendars)
    cols = [
        es.c.calendar_id,
        es.c.google_event_id,
        es.c.event_class,
        es.c.status,
        es.c.google_updated,
        es.c.recurring_event_id,
        es.c.foreign_instance,
        es.c.foreign_type,
        es.c.foreign_id,
        es.c.foreign_source,
    ]
    external = [
        dict(r)
        for r in conn.execute(
            select(*cols).where(es.c.calendar_id.in_(ids), es.c.event_class == _CLASS_EXTERNAL)
        ).mappings()
    ]
    if not external:
        return []
    newest_ours = conn.execute(
        select(func.max(es.c.google_updated)).where(
            es.c.calendar_id.in_(ids),
            es.c.event_class.in_(_OUR_BLOCKS),
            es.c.status != str(Status.DELETED),
        )
    ).scalar()
    return summarize(
        markers_from_rows(external, calendars),
        own_last_write=parse_updated(newest_ours),
        interval_seconds=interval_seconds,
        now=now,
    )


def markers_from_events(
    entries: Iterable[tuple[int, str, Mapping[str, Any], Any]],
) -> tuple[list[Marker], datetime | None]:
    """Markers and this installation's newest block write among events a reader has
    already listed and classified: (local calendar id, Google calendar id, event,
    `Classification`) each (migrate discover, adoption)."""
    markers = []
    ours: list[datetime] = []
    for cal_id, cal, event, cls in entries:
        if event.get("status") == "cancelled":
            continue
        updated = parse_updated(event.get("updated"))
        if cls.event_class in (EventClass.BUSY_BLOCK, EventClass.ORPHANED_BLOCK):
            if updated is not None:
                ours.append(updated)
            continue
        cols = foreign_columns(cls)
        if not cols["foreign_instance"]:
            continue
        markers.append(
            Marker(
                calendar_id=cal_id,
                calendar=cal,
                google_event_id=str(event.get("id") or ""),
                instance=str(cols["foreign_instance"]),
                kind=str(cols["foreign_type"] or EventType.USER_EVENT),
                marker_id=cols["foreign_id"],
                source=cols["foreign_source"],
                updated=updated,
                recurring_event_id=event.get("recurringEventId") or None,
            )
        )
    return markers, (max(ours) if ours else None)


def summarize_events(
    entries: Iterable[tuple[int, str, Mapping[str, Any], Any]],
    *,
    interval_seconds: int,
    now: datetime,
) -> list[ForeignInstallation]:
    """The summary over already classified events (see `markers_from_events`)."""
    markers, own = markers_from_events(entries)
    return summarize(markers, own_last_write=own, interval_seconds=interval_seconds, now=now)
