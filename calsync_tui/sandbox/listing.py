"""events.list and events.instances: filters, series expansion, pages, sync tokens.

A listing is computed once per (calendar, query, calendar version) and cached, so
following `nextPageToken` over 50,000 events costs one pass. Pages resume after the
last key (keyset), so changes between pages never skip an event; the sync token names
the change sequence seen by the first page, so anything changed while paging comes
back in the next incremental listing.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync_tui.sandbox import recurrence, tokens
from calsync_tui.sandbox.calendar import Calendar, public
from calsync_tui.sandbox.errors import ApiError, invalid
from calsync_tui.sandbox.times import edge, format_utc, parse_rfc3339

MAX_RESULTS = 2500
DEFAULT_RESULTS = 250
SYNC_FORBIDDEN = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
SYNC_PREFIX = "CPsb"
PAGE_PREFIX = "EpSb"
# Google does not publish how long a sync token lives ("sometimes sync tokens are
# invalidated by the server, for various reasons including token expiration", Calendar
# API guide, Synchronize resources efficiently). The sandbox keeps one a week of sandbox
# clock, then answers 410 fullSyncRequired (lenient `token_ttl`: never).
DEFAULT_TOKEN_TTL = timedelta(days=7)
Params = dict[str, list[str]]
Key = tuple[Any, ...]


def gone() -> ApiError:
    return ApiError(
        410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."
    )


def one(params: Params, name: str) -> str | None:
    values = params.get(name)
    return values[-1] if values else None


def flag(params: Params, name: str) -> bool:
    return (one(params, name) or "").lower() == "true"


class Lister:
    """Stateless apart from a small LRU of computed listings."""

    def __init__(
        self,
        cache_size: int = 32,
        *,
        clock: Callable[[], datetime] | None = None,
        lenient: frozenset[str] = frozenset(),
        token_ttl: timedelta | None = DEFAULT_TOKEN_TTL,
    ) -> None:
        self._cache: OrderedDict[tuple[Any, ...], tuple[list[Key], list[dict[str, Any]]]] = (
            OrderedDict()
        )
        self._size = cache_size
        self.clock = clock or (lambda: datetime.now(UTC))
        self.lenient = lenient
        self.token_ttl = token_ttl

    def list_events(
        self,
        cal: Calendar,
        params: Params,
        access_role: str,
        seq_now: int,
        cut: Callable[[int], int] | None = None,
    ) -> dict[str, Any]:
        """One page. `cut(n)` may shorten a page of n items (even to 0), as Google's may be."""
        max_results = page_size(params)
        sync_token = one(params, "syncToken")
        single = flag(params, "singleEvents")
        if one(params, "orderBy") == "startTime" and not single:
            raise invalid("The requested ordering is not available for the particular query.")
        if one(params, "orderBy") not in (None, "startTime", "updated"):
            raise invalid(f"Invalid value for orderBy: {one(params, 'orderBy')}")
        window: tuple[str | None, str | None]
        series_window: tuple[str | None, str | None] | None = None
        since: int | None = None
        if sync_token:
            bad = [name for name in SYNC_FORBIDDEN if name in params]
            if bad:
                raise invalid(f"The parameter {bad[0]} is not allowed together with syncToken.")
            tok = tokens.decode(SYNC_PREFIX, sync_token)
            if not tok or tok.get("c") != cal.id or tok.get("g") != cal.generation:
                raise gone()
            if bool(tok.get("se", single)) != single:  # Google: must match the full sync
                raise invalid("singleEvents must match the request that made the syncToken.")
            since = int(tok["s"])
            if since < cal.purge_floor:  # a deletion it should report was purged
                raise gone()
            issued = tok.get("t")
            if (
                self.token_ttl is not None
                and "token_ttl" not in self.lenient
                and isinstance(issued, (int, float))
                and self.clock().timestamp() - issued > self.token_ttl.total_seconds()
            ):
                raise gone()
            # Google's token names a point in the change history, not a window: the
            # incremental listing holds every event changed since, whatever its date, and
            # no unchanged one (discovery document, events.list syncToken; kidd/org-gcal.el
            # #82). Lenient `windowed_tokens`: a changed series expands within the full
            # sync's window (the sandbox's old behaviour).
            window = (None, None)
            if "windowed_tokens" in self.lenient:
                series_window = (tok.get("lo"), tok.get("hi"))
        else:
            window = (one(params, "timeMin"), one(params, "timeMax"))
        lo = parse_rfc3339(window[0]) if window[0] else None
        hi = parse_rfc3339(window[1]) if window[1] else None
        if lo and hi and hi <= lo and not sync_token:
            raise invalid("The specified time range is empty.")
        fingerprint = query_fingerprint(params)
        page = one(params, "pageToken")
        snap = seq_now
        after: Key | None = None
        if page:
            decoded = tokens.decode(PAGE_PREFIX, page)
            if not decoded or decoded.get("f") != fingerprint:
                raise invalid("Invalid page token.")
            snap = int(decoded["s"])
            after = tuple(decoded["k"]) if decoded.get("k") is not None else None
        cache_key = (id(cal), cal.id, fingerprint, cal.version, cal.generation)
        hit = self._cache.get(cache_key)
        if hit is None:
            rows = self.compute(
                cal,
                params,
                single=single,
                lo=lo,
                hi=hi,
                since=since,
                series_window=(
                    None
                    if series_window is None
                    else tuple(parse_rfc3339(w) if w else None for w in series_window)  # type: ignore[arg-type]
                ),
            )
            hit = ([k for k, _ in rows], [e for _, e in rows])
            self._cache[cache_key] = hit
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(cache_key)
        keys, items = hit
        start = bisect.bisect_right(keys, after) if after is not None else 0
        end = min(start + max_results, len(items))
        if cut is not None and end > start:
            end = start + cut(end - start)
        chunk = items[start:end]
        out: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"p3{snap:014d}"',
            "summary": cal.summary,
            "description": cal.description,
            "updated": cal.updated,
            "timeZone": cal.time_zone,
            "accessRole": access_role,
            "defaultReminders": [],
            "items": chunk,
        }
        if end < len(items):
            last = list(keys[end - 1]) if end > start else (list(after) if after else None)
            out["nextPageToken"] = tokens.encode(
                PAGE_PREFIX, {"k": last, "s": snap, "f": fingerprint}
            )
        else:
            out["nextSyncToken"] = tokens.encode(
                SYNC_PREFIX,
                {
                    "c": cal.id,
                    "s": snap,
                    "g": cal.generation,
                    "lo": window[0],
                    "hi": window[1],
                    "se": single,
                    "t": round(self.clock().timestamp(), 3),
                },
            )
        return out

    def compute(
        self,
        cal: Calendar,
        params: Params,
        *,
        single: bool,
        lo: datetime | None,
        hi: datetime | None,
        since: int | None,
        series_window: tuple[datetime | None, datetime | None] | None = None,
    ) -> list[tuple[Key, dict[str, Any]]]:
        show_deleted = flag(params, "showDeleted") or since is not None
        updated_min = one(params, "updatedMin")
        if updated_min:
            parse_rfc3339(updated_min)
            show_deleted = True  # Google: deleted since updatedMin always included
        lo_ts, hi_ts = (lo.timestamp() if lo else None), (hi.timestamp() if hi else None)
        if since is None:
            candidates: Iterator[dict[str, Any]] = iter(cal.events.values())
        else:
            candidates = (cal.events[i] for i, s in cal.seq.items() if s > since)
        matches = Filters(params)
        by_updated = one(params, "orderBy") == "updated"
        rows: dict[str, dict[str, Any]] = {}
        for ev in candidates:
            for shown in self.expand(
                cal,
                ev,
                single,
                lo,
                hi,
                lo_ts,
                hi_ts,
                since is not None,
                show_deleted,
                series_window,
            ):
                # Google: cancelled instances (not the series) are listed even without
                # showDeleted when singleEvents is false too.
                if (
                    shown.get("status") == "cancelled"
                    and not show_deleted
                    and (single or "recurringEventId" not in shown)
                ):
                    continue
                if updated_min and str(shown.get("updated", "")) < normalize_updated(updated_min):
                    continue
                if not matches(shown):
                    continue
                rows[shown["id"]] = shown
        keyed = [(sort_key(cal, e, by_updated), e) for e in rows.values()]
        keyed.sort(key=lambda r: r[0])
        return keyed

    def expand(
        self,
        cal: Calendar,
        ev: dict[str, Any],
        single: bool,
        lo: datetime | None,
        hi: datetime | None,
        lo_ts: float | None,
        hi_ts: float | None,
        incremental: bool,
        show_deleted: bool = False,
        series_window: tuple[datetime | None, datetime | None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """What one stored event contributes to a listing (its instances when `single`;
        a deleted series then shows as cancelled instances, never as the series itself)."""
        eid = ev["id"]
        if cal.is_exception(ev):
            master = cal.events.get(ev["recurringEventId"])
            if single and not incremental and master is not None:
                return  # listed through its series
            shown = cal.render_exception(master, ev)
            if incremental or in_window(cal, shown, lo_ts, hi_ts):
                yield shown
            return
        if ev.get("recurrence"):
            if not single:
                if (
                    incremental
                    or ev.get("status") == "cancelled"
                    or recurrence.occurrences(ev, cal.time_zone, lo, hi)
                ):
                    yield public(ev)
                return
            if ev.get("status") == "cancelled" and not (incremental or show_deleted):
                return
            seen: set[str] = set()
            if incremental and series_window is None:
                # A changed series comes back far ahead: every instance to its end, 730
                # at most when unbounded (garrytan/gbrain#5015, compass-calendar#797).
                occs = recurrence.occurrences(ev, cal.time_zone, None, None, far=True)
            elif incremental and series_window is not None:  # lenient windowed_tokens
                occs = recurrence.occurrences(ev, cal.time_zone, *series_window)
            else:
                occs = recurrence.occurrences(ev, cal.time_zone, lo, hi)
            for occ in occs:
                inst = cal.instance(ev, occ)
                seen.add(inst["id"])
                if inst.get("status") == "cancelled" or in_window(cal, inst, lo_ts, hi_ts):
                    yield inst
            for xid in cal.exceptions.get(eid, ()):
                if xid not in seen:  # moved into the window from elsewhere
                    shown = cal.render_exception(ev, cal.events[xid])
                    if shown.get("status") != "cancelled" and in_window(cal, shown, lo_ts, hi_ts):
                        yield shown
            return
        if not incremental and (lo_ts is not None or hi_ts is not None):
            s, e = cal.bounds[eid]
            if (lo_ts is not None and e <= lo_ts) or (hi_ts is not None and s >= hi_ts):
                return
        yield public(ev)

    def instances(self, cal: Calendar, master: dict[str, Any], params: Params) -> dict[str, Any]:
        """events.instances: the series' instances (offset pages; the series rarely changes)."""
        max_results = page_size(params)
        lo = parse_rfc3339(one(params, "timeMin") or "") if one(params, "timeMin") else None
        hi = parse_rfc3339(one(params, "timeMax") or "") if one(params, "timeMax") else None
        show_deleted = flag(params, "showDeleted")
        items = []
        for occ in recurrence.occurrences(master, cal.time_zone, lo, hi):
            inst = cal.instance(master, occ)
            if inst.get("status") == "cancelled" and not show_deleted:
                continue
            items.append(inst)
        offset = 0
        page = one(params, "pageToken")
        if page:
            decoded = tokens.decode(PAGE_PREFIX, page)
            if not decoded or "o" not in decoded:
                raise invalid("Invalid page token.")
            offset = int(decoded["o"])
        out: dict[str, Any] = {
            "kind": "calendar#events",
            "summary": cal.summary,
            "timeZone": cal.time_zone,
            "items": items[offset : offset + max_results],
        }
        if offset + max_results < len(items):
            out["nextPageToken"] = tokens.encode(PAGE_PREFIX, {"o": offset + max_results})
        return out


def page_size(params: Params) -> int:
    raw = one(params, "maxResults")
    if raw is None:
        return DEFAULT_RESULTS
    try:
        value = int(raw)
    except ValueError:
        raise invalid(f"Invalid value for maxResults: {raw}") from None
    if value < 1:
        raise invalid(f"Invalid value for maxResults: {raw}")
    return min(value, MAX_RESULTS)


def query_fingerprint(params: Params) -> str:
    kept = {k: sorted(v) for k, v in params.items() if k not in ("pageToken", "maxResults")}
    return hashlib.sha1(json.dumps(kept, sort_keys=True).encode()).hexdigest()[:16]


def normalize_updated(value: str) -> str:
    return format_utc(parse_rfc3339(value))


def in_window(cal: Calendar, ev: dict[str, Any], lo_ts: float | None, hi_ts: float | None) -> bool:
    if lo_ts is None and hi_ts is None:
        return True
    if "start" not in ev or "end" not in ev:  # a cancelled instance: where it was
        original = ev.get("originalStartTime")
        if not original:
            return True
        s = e = edge(original, cal.time_zone, field_name="originalStart").timestamp()
        return not ((lo_ts is not None and e < lo_ts) or (hi_ts is not None and s >= hi_ts))
    s = edge(ev["start"], cal.time_zone, field_name="start").timestamp()
    e = edge(ev["end"], cal.time_zone, field_name="end").timestamp()
    return not ((lo_ts is not None and e <= lo_ts) or (hi_ts is not None and s >= hi_ts))


def sort_key(cal: Calendar, ev: dict[str, Any], by_updated: bool) -> Key:
    if by_updated:
        return (str(ev.get("updated", "")), ev["id"])
    when = ev.get("start") or ev.get("originalStartTime")
    if ev["id"] in cal.bounds:
        ts = cal.bounds[ev["id"]][0]
    elif when:
        ts = edge(when, cal.time_zone, field_name="start").timestamp()
    else:
        ts = 0.0
    return (ts, ev["id"])


class Filters:
    """q, privateExtendedProperty / sharedExtendedProperty (AND of repeats), iCalUID, eventTypes."""

    def __init__(self, params: Params) -> None:
        self.q = (one(params, "q") or "").lower().strip()
        self.private = [split_prop(p) for p in params.get("privateExtendedProperty", [])]
        self.shared = [split_prop(p) for p in params.get("sharedExtendedProperty", [])]
        self.ical = one(params, "iCalUID")
        types: list[str] = []
        for raw in params.get("eventTypes", []):
            types.extend(t for t in raw.split(",") if t)
        self.types = set(types)

    def __call__(self, ev: dict[str, Any]) -> bool:
        if self.ical and ev.get("iCalUID") != self.ical:
            return False
        if self.types and ev.get("eventType", "default") not in self.types:
            return False
        if self.private or self.shared:
            props = ev.get("extendedProperties") or {}
            for scope, wanted in (("private", self.private), ("shared", self.shared)):
                have = props.get(scope) or {}
                if any(have.get(k) != v for k, v in wanted):
                    return False
        if self.q:
            text = " ".join(
                str(ev.get(k, "")) for k in ("summary", "description", "location")
            ).lower()
            if self.q not in text:
                return False
        return True


def split_prop(raw: str) -> tuple[str, str]:
    key, sep, value = raw.partition("=")
    if not sep:
        raise invalid(f"Invalid extended property filter: {raw!r} (expected key=value)")
    return key, value
