"""Backoff decisions and delays, and the token-bucket pacer, with fake clocks."""

from __future__ import annotations

import random

from calsync_tui.google.backoff import Retry, RetryPolicy, classify, classify_status
from calsync_tui.google.pacer import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_what_is_retried() -> None:
    assert classify_status(403, "rateLimitExceeded") is Retry.TRANSIENT
    assert classify_status(403, "userRateLimitExceeded") is Retry.TRANSIENT
    assert classify_status(429, "rateLimitExceeded") is Retry.TRANSIENT
    assert classify_status(429, None) is Retry.TRANSIENT
    for status in (500, 502, 503, 504):
        assert classify_status(status, "backendError") is Retry.TRANSIENT
    assert classify_status(403, "quotaExceeded") is Retry.QUOTA
    for status, reason in (
        (400, "invalid"),
        (403, "forbidden"),
        (404, "notFound"),
        (409, "duplicate"),
        (412, "conditionNotMet"),
        (410, "deleted"),
    ):
        assert classify_status(status, reason) is Retry.NO
    assert classify(ConnectionRefusedError()) is Retry.REFUSED
    assert classify(ConnectionResetError()) is Retry.TRANSIENT
    assert classify(TimeoutError()) is Retry.TRANSIENT
    assert classify(ValueError()) is Retry.NO


def test_full_jitter_cap_and_deadline() -> None:
    clock = FakeClock()
    policy = RetryPolicy(
        base=1.0,
        cap=8.0,
        deadline=20.0,
        max_attempts=50,
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(1),
    )
    budget = policy.start()
    while budget.wait(Retry.TRANSIENT):
        pass
    assert clock.sleeps, "some retries happened"
    assert all(0 <= s <= 8.0 for (s,) in zip(clock.sleeps, strict=False))
    assert clock.now <= 20.0  # never sleeps past the deadline
    for i, s in enumerate(clock.sleeps):
        assert s <= min(8.0, 2**i)
    assert not budget.wait(Retry.NO)


def test_quota_pause_is_long_and_reported() -> None:
    clock = FakeClock()
    told: list[float] = []
    policy = RetryPolicy(
        quota_pause=120.0, deadline=1000.0, sleep=clock.sleep, clock=clock, on_quota=told.append
    )
    budget = policy.start()
    assert budget.wait(Retry.QUOTA)
    assert 60.0 <= clock.sleeps[0] <= 120.0
    assert told == clock.sleeps


def test_refused_gives_up_quickly() -> None:
    clock = FakeClock()
    policy = RetryPolicy(refused_attempts=3, sleep=clock.sleep, clock=clock)
    budget = policy.start()
    tries = 1
    while budget.wait(Retry.REFUSED):
        tries += 1
    assert tries == 3


def test_pacer_holds_the_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(600, burst=10, clock=clock, sleep=clock.sleep)  # 10/s
    for _ in range(100):
        pacer.acquire(1)
    # 100 requests at 10/s: the first 10 go at once, the other 90 one per 0.1 s.
    assert abs(clock.now - 9.0) < 1e-6
    clock2 = FakeClock()
    batched = Pacer(600, burst=10, clock=clock2, sleep=clock2.sleep)
    for _ in range(10):
        batched.acquire(10)  # a batch of 10 parts counts as 10 requests
    # A batch of 10 parts counts as 10 requests: the same 9 s as 100 single requests.
    assert abs(clock2.now - 9.0) < 1e-6


def test_pacer_never_exceeds_a_sliding_window() -> None:
    clock = FakeClock()
    pacer = Pacer(500, clock=clock, sleep=clock.sleep)  # default burst: 83
    sent: list[float] = []
    for size in [1, 7, 50, 83, 20, 1, 300, 5, 50] * 8:
        pacer.acquire(size)
        sent.extend([clock.now] * size)
    worst = max(sum(1 for t in sent if start <= t < start + 60) for start in sent)
    assert worst <= 600  # Google's per-user limit
