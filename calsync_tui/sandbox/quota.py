"""Google's per-user and per-project sliding-window request limits (default 600 and 10,000 a minute)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from calsync_tui.sandbox.errors import ApiError

DEFAULT_PER_USER = 600
DEFAULT_PER_PROJECT = 10_000
WINDOW_SECONDS = 60.0


class SlidingWindowQuota:
    """Counts accepted requests in the last `window` seconds; refused ones do not count."""

    def __init__(
        self,
        per_user: int | None = DEFAULT_PER_USER,
        per_project: int | None = DEFAULT_PER_PROJECT,
        *,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_user = per_user
        self.per_project = per_project
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._users: dict[str, deque[float]] = {}
        self._project: deque[float] = deque()

    def _trim(self, q: deque[float], now: float) -> None:
        edge = now - self.window
        while q and q[0] <= edge:
            q.popleft()

    def charge(self, user: str) -> None:
        """Record one request for `user`, or raise Google's rate-limit error."""
        with self._lock:
            now = self.clock()
            uq = self._users.setdefault(user, deque())
            self._trim(uq, now)
            self._trim(self._project, now)
            if self.per_user is not None and len(uq) >= self.per_user:
                raise ApiError(
                    403,
                    "userRateLimitExceeded",
                    "Rate Limit Exceeded",
                    domain="usageLimits",
                )
            if self.per_project is not None and len(self._project) >= self.per_project:
                raise ApiError(
                    429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"
                )
            uq.append(now)
            self._project.append(now)

    def reset(self) -> None:
        with self._lock:
            self._users.clear()
            self._project.clear()


def quota_exceeded() -> ApiError:
    return ApiError(403, "quotaExceeded", "Calendar usage limits exceeded.", domain="usageLimits")


# Sticky usage limit (support.google.com/a/answer/2905486, "Avoid Calendar use limits":
# after too many events created in a short period the user's calendars become read-only
# for a few hours, and the budget "might take several months" to refill; writes to
# secondary calendars count against the writing user). The page publishes a number:
# more than 100,000 events created "during a short period" (older copies of the page,
# e.g. the one quoted in benjcunningham/googlecalendar#4, said 10,000); lockouts are also
# reported at far smaller volumes (derekantrican/GAS-ICS-Sync#167, an ICS sync;
# inovex/CalendarSync#280, events with attendees). Default, deliberately far stricter
# than the published number (when in doubt stricter): 3,000 writes of any kind by one
# user in 10 minutes lock that user's writes for 3 hours. Paced at the 600/min per-user
# quota a backfill reaches 3,000 in 5 minutes, so a real burst trips it; the suite's
# biggest ordinary workloads stay well below it (see the sandbox README). Kinder than
# Google in one way: the count starts again after a lockout (no months-long refill).
DEFAULT_USAGE_WRITES = 3000
DEFAULT_USAGE_WINDOW = 600.0
DEFAULT_LOCKOUT = 3 * 3600.0
# Per-calendar burst (Google's "Handle API errors" guide: 403 rateLimitExceeded, "the
# user has reached Google Calendar API's maximum request rate per calendar or per
# authenticated user"; "Manage quotas": operational limits, "for example, if you attempt
# to write to a single calendar in quick succession"; reported for bulk deletes in
# kewisch/gdata-provider#187). No number is published. Default: more than 1,000 writes
# to one calendar within 60 s of sandbox clock (above the 600/min per-user quota: only a
# client past the documented pace meets it); each refused part answers 403
# rateLimitExceeded and does not count.
DEFAULT_BURST_WRITES = 1000
DEFAULT_BURST_WINDOW = 60.0


class UsageLimit:
    """Per-user sticky write lockout on the sandbox clock; remembered until it lifts."""

    def __init__(
        self,
        clock: Callable[[], float],
        writes: int | None = DEFAULT_USAGE_WRITES,
        window: float = DEFAULT_USAGE_WINDOW,
        lockout: float = DEFAULT_LOCKOUT,
    ) -> None:
        self.clock = clock
        self.writes = writes
        self.window = window
        self.lockout = lockout
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self._until: dict[str, float] = {}
        self.trips = 0

    def locked_until(self, user: str) -> float | None:
        with self._lock:
            until = self._until.get(user)
            if until is not None and self.clock() >= until:
                del self._until[user]
                until = None
            return until

    def check(self, user: str) -> None:
        """403 quotaExceeded while `user` is locked out (every write, every batch part)."""
        if self.locked_until(user) is not None:
            raise quota_exceeded()

    def record(self, user: str) -> None:
        """One accepted write; the one that reaches the threshold trips the lockout."""
        if self.writes is None:
            return
        with self._lock:
            now = self.clock()
            q = self._recent.setdefault(user, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            q.append(now)
            if len(q) >= self.writes:
                q.clear()
                self._until[user] = now + self.lockout
                self.trips += 1

    def trip(self, user: str, seconds: float | None = None) -> None:
        with self._lock:
            self._until[user] = self.clock() + (self.lockout if seconds is None else seconds)
            self.trips += 1

    def clear(self, user: str | None = None) -> None:
        with self._lock:
            if user is None:
                self._until.clear()
                self._recent.clear()
            else:
                self._until.pop(user, None)
                self._recent.pop(user, None)


class CalendarBurst:
    """More than `writes` accepted writes to one calendar within `window` seconds (sandbox
    clock) → 403 rateLimitExceeded; refused writes do not count. Deterministic: the answer
    depends only on the writes already accepted and the clock."""

    def __init__(
        self,
        clock: Callable[[], float],
        writes: int | None = DEFAULT_BURST_WRITES,
        window: float = DEFAULT_BURST_WINDOW,
    ) -> None:
        self.clock = clock
        self.writes = writes
        self.window = window
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self.refused = 0

    def charge(self, calendar_id: str) -> None:
        if self.writes is None:
            return
        with self._lock:
            now = self.clock()
            q = self._recent.setdefault(calendar_id, deque())
            while q and q[0] <= now - self.window:
                q.popleft()
            if len(q) >= self.writes:
                self.refused += 1
                raise ApiError(
                    403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits"
                )
            q.append(now)

    def reset(self) -> None:
        with self._lock:
            self._recent.clear()
