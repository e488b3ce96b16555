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
