"""Fault injection: seeded, switchable at run time, parsed from one short spec string.

`rate=0.2,error5xx=0.05,latency_ms=30,drop_after_write=0.01,quota=0.01,seed=7`:
- rate: share of calls answered rateLimitExceeded (403 or 429, as Google does both)
- error5xx: share answered 500/503 backendError
- latency_ms: added to every HTTP round trip
- drop_after_write: the write is applied, then the connection is closed without an answer
  (the case that makes non-idempotent clients duplicate)
- quota: share answered 403 quotaExceeded (the anti-abuse limit)
- short_pages: share of events.list pages cut short, even to empty (nextPageToken still
  set), as Google's pages may be
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, fields

from calsync_tui.errors import UsageError


@dataclass
class FaultSpec:
    rate: float = 0.0
    error5xx: float = 0.0
    latency_ms: float = 0.0
    drop_after_write: float = 0.0
    quota: float = 0.0
    short_pages: float = 0.0
    seed: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("rate", "error5xx", "drop_after_write", "quota", "short_pages"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"fault {name} must be between 0 and 1, got {value}")
        if self.rate + self.error5xx + self.quota > 1.0:
            raise UsageError("fault rate + error5xx + quota must not exceed 1")
        if self.latency_ms < 0:
            raise UsageError("fault latency_ms must be >= 0")
        self._rng.seed(self.seed)

    @classmethod
    def parse(cls, spec: str) -> FaultSpec:
        """Parse "key=value,..."; an unknown key or bad number is a usage error."""
        names = {f.name for f in fields(cls) if not f.name.startswith("_")}
        values: dict[str, float | int] = {}
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or key not in names:
                raise UsageError(
                    f"bad fault spec item {item!r}; known keys: {', '.join(sorted(names))}"
                )
            try:
                values[key] = int(raw) if key == "seed" else float(raw)
            except ValueError:
                raise UsageError(f"fault {key} needs a number, got {raw!r}") from None
        return cls(**values)  # type: ignore[arg-type]

    def to_spec(self) -> str:
        return (
            f"rate={self.rate},error5xx={self.error5xx},latency_ms={self.latency_ms},"
            f"drop_after_write={self.drop_after_write},quota={self.quota},"
            f"short_pages={self.short_pages},seed={self.seed}"
        )

    def roll(self, probability: float) -> bool:
        """One seeded draw; always draws so the sequence stays stable for a seed."""
        with self._lock:
            hit = self._rng.random() < probability
        return hit

    def draw(self) -> str | None:
        """Which injected error this call gets, if any: one uniform draw split into bands,
        so each configured share holds on its own ("quota", "rate", "5xx" or None)."""
        with self._lock:
            u = self._rng.random()
        for kind, share in (("quota", self.quota), ("rate", self.rate), ("5xx", self.error5xx)):
            if u < share:
                return kind
            u -= share
        return None

    def cut(self, n: int) -> int:
        """Length of a page of n items: shorter (maybe empty) with chance `short_pages`."""
        with self._lock:
            if self._rng.random() >= self.short_pages:
                return n
            return self._rng.randrange(0, n)

    def choice(self, a: int, b: int) -> int:
        with self._lock:
            return a if self._rng.random() < 0.5 else b


def coerce(spec: FaultSpec | str | None) -> FaultSpec | None:
    if spec is None or isinstance(spec, FaultSpec):
        return spec
    return FaultSpec.parse(spec) if spec.strip() else None
