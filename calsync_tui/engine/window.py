"""The sync window slides; a sync token does not (GOOGLE_FACTS "Incremental sync").

Incremental results hold every event changed since the token, whatever its date, and
never an unchanged event that came into the window as days passed. So each calendar
keeps a *read cursor*: its sync token plus `listed_until`, the instant up to which its
events have been listed in full. Listings reach `MARGIN` beyond the window's end; when
the window's end passes `listed_until` (about once a day, or at once when
`window_days_ahead` is raised) the cycle lists just the newly reached slice
`[listed_until, window end + MARGIN)` with timeMin/timeMax and no token, beside the
incremental listing. Events of the margin are stored as "outside the window" and come
in (`RowSet.rewindow`) the cycle they enter it.

The cursor lives in the calendar row's `sync_token` text column as a small JSON object
(no schema change); a bare token (a store written before this) reads as a cursor with
an unknown `listed_until`: the whole window is listed once more beside it.

Rows are kept only for events that can matter: inside `[window start, listed_until)`, or
already stored (a changed series answers with its instances for years ahead: those are
not stored until the window reaches them). Blocks that leave the window keep being
ours: the planner deletes nothing outside the window (history, not orphans).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MARGIN = timedelta(days=1)


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(raw: object) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The sync window of one cycle: [start, end)."""

    start: datetime
    end: datetime

    @property
    def horizon(self) -> datetime:
        """How far listings reach: the window's end plus the margin."""
        return self.end + MARGIN

    def contains(self, start_utc: datetime | None, end_utc: datetime | None) -> bool:
        """An event [start, end) overlaps the window (Google's timeMin/timeMax rule)."""
        if start_utc is None:
            return True  # unknown times: never treated as outside
        if start_utc >= self.end:
            return False
        return end_utc is None or end_utc > self.start


@dataclass(frozen=True)
class Cursor:
    """A calendar's read position: sync token and how far its listings reached."""

    sync_token: str | None = None
    listed_until: datetime | None = None

    @classmethod
    def decode(cls, raw: str | None) -> Cursor:
        if not raw:
            return cls()
        if raw.startswith("{"):
            try:
                data = json.loads(raw)
            except ValueError:
                return cls()
            if isinstance(data, dict):
                token = data.get("token")
                return cls(
                    token if isinstance(token, str) and token else None, _parse(data.get("until"))
                )
            return cls()
        return cls(raw, None)  # a bare token (stored before cursors)

    def encode(self) -> str | None:
        if self.sync_token is None:
            return None
        out: dict[str, str] = {"token": self.sync_token}
        if self.listed_until is not None:
            out["until"] = _iso(self.listed_until)
        return json.dumps(out, sort_keys=True)

    def slice_to_list(self, window: Window) -> tuple[datetime, datetime] | None:
        """The part of the window never listed yet, reaching to the horizon; None when
        the listings already reach past the window's end."""
        if self.listed_until is not None and self.listed_until >= window.end:
            return None
        lo = window.start if self.listed_until is None else max(window.start, self.listed_until)
        return lo, window.horizon
