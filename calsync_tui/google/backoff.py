"""Retry policy: exponential backoff with full jitter, a cap and a total deadline.

Google asks clients to back off on 403 rateLimitExceeded/userRateLimitExceeded, 429
and 5xx; 403 quotaExceeded is the anti-abuse limit and wants minutes, not seconds.
Every other 4xx is a real answer and is never retried. Sleep, clock and randomness
are injectable so tests run in milliseconds.

quotaExceeded is Google's sticky usage limit (the account is read-only for hours), so
the write path never waits it out: it calls the gateway with `stop_on_quota`, which
makes a `Retry.QUOTA` answer final (no pause, no retry, no further chunk) and leaves
the pause to `calsync_tui.writes.lockout` (a stored pause-until time, one probe after
it). The minutes-long `quota_pause` below only applies to callers that do not stop
(reads, and direct gateway use).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from googleapiclient.errors import HttpError

from calsync_tui.google.errors import describe_http_error, is_connection_error, is_refused

RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Retry(Enum):
    """How a failure should be retried."""

    NO = "no"
    TRANSIENT = "transient"  # rate limit, 5xx, dropped connection: seconds
    QUOTA = "quota"  # 403 quotaExceeded: minutes
    REFUSED = "refused"  # connection refused / unknown host: a couple of quick tries


def classify_status(status: int, reason: str | None) -> Retry:
    """Decide from an HTTP status and Google's reason."""
    if status == 403 and reason in QUOTA_REASONS:
        return Retry.QUOTA
    if status in (403, 429) and reason in RATE_LIMIT_REASONS:
        return Retry.TRANSIENT
    if status in RETRY_STATUSES:
        return Retry.TRANSIENT
    return Retry.NO


def classify(exc: BaseException) -> Retry:
    """Decide from an exception raised by a call."""
    if isinstance(exc, HttpError):
        info = describe_http_error(exc)
        return classify_status(info.status, info.reason)
    if is_refused(exc):
        return Retry.REFUSED
    if is_connection_error(exc):
        return Retry.TRANSIENT
    return Retry.NO


@dataclass
class RetryPolicy:
    """Delays and limits. `base * 2**attempt` capped at `cap`, full jitter, until `deadline`."""

    base: float = 0.5
    cap: float = 32.0
    deadline: float = 300.0  # seconds for one call (or one batch and its retries)
    max_attempts: int = 12
    refused_attempts: int = 3
    quota_pause: float = 120.0  # 403 quotaExceeded: pause this long (with jitter)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    on_quota: Callable[[float], None] | None = None  # told when a quota pause starts

    def delay(self, attempt: int, kind: Retry) -> float:
        """The pause before retry number `attempt` (0-based)."""
        if kind is Retry.QUOTA:
            return self.quota_pause * (0.5 + self.rng.random() / 2)
        return self.rng.uniform(0, min(self.cap, self.base * (2**attempt)))

    def start(self) -> RetryBudget:
        return RetryBudget(self, self.clock() + self.deadline)


@dataclass
class RetryBudget:
    """One operation's retry state: attempts made and the time it must finish by."""

    policy: RetryPolicy
    ends_at: float
    attempt: int = 0

    def wait(self, kind: Retry) -> bool:
        """Sleep before the next try; False when no retry is allowed any more."""
        if kind is Retry.NO:
            return False
        limit = self.policy.refused_attempts if kind is Retry.REFUSED else self.policy.max_attempts
        if self.attempt + 1 >= limit:
            return False
        pause = self.policy.delay(self.attempt, kind)
        if self.policy.clock() + pause > self.ends_at:
            return False
        if kind is Retry.QUOTA and self.policy.on_quota is not None:
            self.policy.on_quota(pause)
        self.policy.sleep(pause)
        self.attempt += 1
        return True


def policy_from_settings(extra: dict[str, object], **overrides: float) -> RetryPolicy:
    """A policy tuned by `Settings.extra` keys (seconds): backoff_base, backoff_cap,
    backoff_deadline, quota_pause. Tests put tiny values in the home's config.json."""
    values: dict[str, float] = {}
    for key, attr in (
        ("backoff_base", "base"),
        ("backoff_cap", "cap"),
        ("backoff_deadline", "deadline"),
        ("quota_pause", "quota_pause"),
    ):
        raw = extra.get(key)
        if raw is not None:
            try:
                values[attr] = float(str(raw))
            except ValueError:
                from calsync_tui.errors import CalsyncError

                raise CalsyncError(f"setting extra.{key} must be a number of seconds") from None
    values.update(overrides)
    return RetryPolicy(**values)  # type: ignore[arg-type]
