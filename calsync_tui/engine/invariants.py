"""Correctness invariants over Google's truth (plain event lists) and the local state.

Pure functions so engine, migration and proof tests share one checker:
0 cascades; exactly one block per (source instance, target) unless the target holds a
live copy of the same event (same iCalUID + originalStartTime), then none, and copies on
several calendars count as one source; no block without a live source; no stuck `creating`; EventState agrees with Google.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync_tui.engine.classify import ClassifyContext, classify, is_cascade_title
from calsync_tui.engine.fields import BadEventData, parse_times, same_event_key, title_of
from calsync_tui.engine.model import EngineMode, EventClass
from calsync_tui.google.types import GoogleEvent
from calsync_tui.settings import Settings


@dataclass(frozen=True)
class Violation:
    kind: str  # cascade | missing_block | duplicate_block | orphan_block | stuck | state_mismatch
    calendar: str
    event_id: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.calendar}/{self.event_id}: {self.detail}"


def _times_key(event: GoogleEvent) -> tuple[str, str] | None:
    try:
        start, end = parse_times(event)
    except BadEventData:
        return None
    return start.key(), end.key()


def check_google(
    calendars: Mapping[str, Sequence[GoogleEvent]],
    *,
    writable: Collection[str],
    installation_id: str,
    settings: Settings | None = None,
    now: datetime | None = None,
    modes: Mapping[str, EngineMode] | None = None,
    owner_emails: Mapping[str, Collection[str]] | None = None,
) -> list[Violation]:
    """Invariants on the Google side. `calendars` maps each *enabled* calendar id to its
    events as listed with `singleEvents=true`; `writable` are the enabled owner/writer ones."""
    s = settings or Settings()
    modes = modes or {}
    owners = owner_emails or {}
    out: list[Violation] = []
    sources: dict[str, tuple[str, GoogleEvent]] = {}
    ours: list[tuple[str, GoogleEvent, str, str]] = []  # cal, event, cid, source cid
    legacy: list[tuple[str, GoogleEvent, str]] = []  # cal, event, suffix
    for cal, events in calendars.items():
        ctx = ClassifyContext(
            installation_id=installation_id,
            calendar_google_id=cal,
            mode=modes.get(cal, EngineMode.UUID),
            legacy_markers=s.legacy_markers,
            ignored_event_types=s.ignored_event_types,
            owner_emails=frozenset(e.lower() for e in owners.get(cal, (cal,))),
            window_start=None if now is None else now - timedelta(days=s.window_days_back),
            window_end=None if now is None else now + timedelta(days=s.window_days_ahead),
        )
        for event in events:
            if event.get("status") == "cancelled":
                continue
            if is_cascade_title(title_of(event), s.legacy_markers):
                out.append(Violation("cascade", cal, str(event.get("id")), title_of(event)))
            c = classify(event, ctx)
            if c.is_source and c.correlation_id:
                sources[c.correlation_id] = (cal, event)
            elif c.event_class in (EventClass.BUSY_BLOCK, EventClass.ORPHANED_BLOCK):
                ours.append((cal, event, c.correlation_id or "", c.source_correlation_id or ""))
            elif c.event_class == EventClass.LEGACY_BUSY_BLOCK and not c.cascade:
                legacy.append((cal, event, c.legacy_suffix or ""))
    block_ids = {cid for _, _, cid, _ in ours}
    count: dict[tuple[str, str], int] = defaultdict(int)
    for cal, event, _cid, scid in ours:
        if scid in block_ids:
            out.append(
                Violation("cascade", cal, str(event.get("id")), "block whose source is a block")
            )
        src = sources.get(scid)
        if src is None or src[0] == cal:
            out.append(
                Violation("orphan_block", cal, str(event.get("id")), f"source {scid} is not live")
            )
            continue
        count[(scid, cal)] += 1
    by_text: dict[tuple[str, str, tuple[str, str] | None], list[str]] = defaultdict(list)
    for cid, (cal, event) in sources.items():
        by_text[(cal, title_of(event), _times_key(event))].append(cid)
    for cal, event, suffix in legacy:
        key = _times_key(event)
        matched = [
            cid
            for (scal, title, tkey), cids in by_text.items()
            if scal != cal and title == suffix and tkey == key
            for cid in cids
        ]
        if not matched:
            # On a reader calendar it is someone else's mirror: not ours to delete.
            if cal in writable:
                out.append(
                    Violation(
                        "orphan_block", cal, str(event.get("id")), "legacy block without a source"
                    )
                )
            continue
        count[(matched[0], cal)] += 1
    # Copies of one meeting (same iCalUID + originalStartTime) count as one source: no
    # block where a live copy sits, exactly one block (from any copy) elsewhere.
    groups: dict[str, list[str]] = defaultdict(list)
    for cid, (_cal, event) in sources.items():
        groups[same_event_key(event) or f"cid|{cid}"].append(cid)
    for members in groups.values():
        held = {sources[m][0] for m in members}
        first = min(members, key=lambda m: sources[m][0])
        cal, event = sources[first]
        for target in writable:
            n = sum(count.get((m, target), 0) for m in members)
            if target in held:
                if n:
                    out.append(
                        Violation(
                            "duplicate_block",
                            target,
                            str(event.get("id")),
                            f"{n} blocks for an event the calendar holds itself",
                        )
                    )
                continue
            cid = first
            if n == 0:
                out.append(
                    Violation(
                        "missing_block",
                        target,
                        str(event.get("id")),
                        f"no block for {cid} from {cal}",
                    )
                )
            elif n > 1:
                out.append(
                    Violation(
                        "duplicate_block", target, str(event.get("id")), f"{n} blocks for {cid}"
                    )
                )
    return out


def check_state(
    rows: Sequence[Mapping[str, Any]],
    calendars: Mapping[int, tuple[str, Sequence[GoogleEvent]]],
    window: tuple[datetime, datetime] | None = None,
) -> list[Violation]:
    """Local state against Google: no `creating` left, every live Google event has a live
    row, every row we call live is on Google. `calendars`: local id -> (google id, events)
    as listed over `window` (rows starting outside it are not expected in the listing:
    the engine keeps a margin ahead and history behind)."""
    out: list[Violation] = []
    live_rows: dict[tuple[int, str], Mapping[str, Any]] = {}
    for r in rows:
        if r.get("status") == "creating":
            out.append(
                Violation(
                    "stuck", str(r.get("calendar_id")), str(r.get("google_event_id")), "creating"
                )
            )
        if r.get("status") in ("created", "synced"):
            live_rows[(int(r["calendar_id"]), str(r["google_event_id"]))] = r
    for cal_id, (google_id, events) in calendars.items():
        on_google = {str(e.get("id")) for e in events if e.get("status") != "cancelled"}
        for gid in on_google:
            if (cal_id, gid) not in live_rows:
                out.append(
                    Violation("state_mismatch", google_id, gid, "on Google, not live in EventState")
                )
        for (rcal, gid), r in live_rows.items():
            if window is not None and not _starts_within(r.get("start_utc"), window):
                continue
            if rcal == cal_id and gid not in on_google and r.get("event_type") == "busy_block":
                out.append(
                    Violation(
                        "state_mismatch", google_id, gid, "block live in EventState, not on Google"
                    )
                )
    return out


def _starts_within(value: Any, window: tuple[datetime, datetime]) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return True
    if not isinstance(value, datetime):
        return True
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return bool(window[0] <= value < window[1])
