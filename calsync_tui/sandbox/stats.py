"""Request counters: per API method, per user, HTTP round trips, batches, writes."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.total = 0
            self.by_method: Counter[str] = Counter()
            self.by_user: Counter[str] = Counter()
            self.by_status: Counter[str] = Counter()
            self.round_trips = 0
            self.batches = 0
            self.writes = 0
            self.dropped = 0

    def call(self, method: str, user: str) -> None:
        with self._lock:
            self.total += 1
            self.by_method[method] += 1
            self.by_user[user] += 1

    def status(self, code: int, *, write_applied: bool) -> None:
        with self._lock:
            self.by_status[str(code)] += 1
            if write_applied:
                self.writes += 1

    def round_trip(self, *, batch: bool) -> None:
        with self._lock:
            self.round_trips += 1
            if batch:
                self.batches += 1

    def drop(self) -> None:
        with self._lock:
            self.dropped += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "by_method": dict(self.by_method),
                "by_user": dict(self.by_user),
                "by_status": dict(self.by_status),
                "round_trips": self.round_trips,
                "batches": self.batches,
                "writes": self.writes,
                "dropped": self.dropped,
            }
