"""Small helpers for the sandbox conformance tests: people, calendars, clients, errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from googleapiclient.errors import HttpError

from calsync_tui.sandbox.client import batch_for, service_for
from calsync_tui.sandbox.server import SandboxServer

ALICE = "alice@example.com"
BOB = "bob@example.com"


@dataclass
class Setup:
    srv: SandboxServer
    cal: str  # Alice's primary calendar
    alice: Any  # googleapiclient Resource acting as Alice
    bob: Any  # acting as Bob

    def batch(self) -> Any:
        return batch_for(self.srv.url)


def setup(srv: SandboxServer) -> Setup:
    srv.add_user(ALICE, "alice-token")
    srv.add_user(BOB, "bob-token")
    cal = srv.create_calendar(ALICE, "Alice", "Europe/Berlin", ALICE)
    srv.create_calendar(BOB, "Bob", "UTC", BOB)
    return Setup(srv, cal, service_for(srv.url, "alice-token"), service_for(srv.url, "bob-token"))


def timed(day: int = 1, hour: int = 10, minutes: int = 60) -> dict[str, Any]:
    start = f"2026-12-{day:02d}T{hour:02d}:00:00Z"
    end_h, end_m = divmod(hour * 60 + minutes, 60)
    return {
        "start": {"dateTime": start},
        "end": {"dateTime": f"2026-12-{day:02d}T{end_h:02d}:{end_m:02d}:00Z"},
    }


def error_of(exc: HttpError) -> tuple[int, str]:
    """(status, reason) from Google's error JSON."""
    body = json.loads(exc.content)
    return int(exc.resp.status), body["error"]["errors"][0]["reason"]


def list_all(service: Any, cal: str, **params: Any) -> tuple[list[dict[str, Any]], str | None, int]:
    """Follow nextPageToken: (items, nextSyncToken, pages)."""
    items: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        resp = service.events().list(calendarId=cal, pageToken=token, **params).execute()
        pages += 1
        items.extend(resp.get("items", []))
        token = resp.get("nextPageToken")
        if not token:
            return items, resp.get("nextSyncToken"), pages
