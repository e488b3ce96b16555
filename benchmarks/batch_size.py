"""Which batch size keeps rate-limit errors lowest against the sandbox's quota model?

The sandbox enforces Google's per-user sliding window (600 requests a minute, each batch
part counted) and its per-calendar burst (1,000 writes per 60 s). Time is scaled so a run takes seconds: the window is `--window` seconds
instead of 60, and the client's pacer and backoff are scaled by the same factor. For each
batch size, N inserts go through the real `GoogleGateway`, with the default pacer
(500/min, burst 83, and the per-calendar write window) and without any client pacing. Printed per run: rate-limit refusals
the server answered, quota units, HTTP round trips, retried parts, and the time the run
would take at Google's real scale.

Run: `python -m benchmarks.batch_size [--writes 1500] [--window 2]`;
writes benchmarks/results/google/batch_size.json.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from google.oauth2.credentials import Credentials

from calsync_tui.google.backoff import RetryPolicy
from calsync_tui.google.gateway import GoogleGateway
from calsync_tui.google.pacer import CALENDAR_WINDOW, CALENDAR_WRITES, Pacer
from calsync_tui.google.types import WriteCall
from calsync_tui.sandbox.server import SandboxServer

RESULTS = Path(__file__).parent / "results" / "google" / "batch_size.json"
SIZES = (1, 10, 50, 100, 250, 500, 1000)
USER = "bench@example.com"


def run_one(writes: int, batch_size: int, window: float, paced: bool) -> dict[str, Any]:
    scale = window / 60.0  # seconds of this run per second at Google's scale
    with SandboxServer(port=0) as sandbox:
        sandbox.quota.window = window
        # The per-calendar burst (1,000 writes per 60 s) on the same scaled clock, and the
        # client's own calendar window (1,000 per 62 s) with it when paced.
        sandbox.set_burst(sandbox.burst.writes, timedelta(seconds=window))
        sandbox.add_user(USER, "bench-token")
        cal = sandbox.create_calendar(USER, "Bench")
        pacer = (
            Pacer(
                int(500 / scale),
                burst=500 // 6,
                calendar_writes=CALENDAR_WRITES,
                calendar_window=CALENDAR_WINDOW * scale,
            )
            if paced
            else Pacer(10**7, burst=10**7, calendar_writes=None)
        )
        policy = RetryPolicy(base=0.5 * scale, cap=32 * scale, deadline=600.0, max_attempts=60)
        gateway = GoogleGateway(
            Credentials(token="bench-token"),  # type: ignore[no-untyped-call]
            sandbox.url,
            email=USER,
            kind="static",
            pacer=pacer,
            policy=policy,
        )
        calls = [
            WriteCall(
                f"k{i}",
                "insert",
                cal,
                f"{i:032x}",
                {
                    "summary": f"Busy {i}",
                    "start": {"dateTime": "2026-12-01T09:00:00Z"},
                    "end": {"dateTime": "2026-12-01T10:00:00Z"},
                },
            )
            for i in range(writes)
        ]
        started = time.perf_counter()
        results = gateway.execute(calls, batch_size=batch_size)
        elapsed = time.perf_counter() - started
        stats = sandbox.stats()
        refused = sum(v for k, v in stats["by_status"].items() if k in ("403", "429"))
        return {
            "batch_size": batch_size,
            "paced": paced,
            "writes": writes,
            "ok": sum(r.ok for r in results),
            "rate_limited": refused,
            "units": gateway.counter.units,
            "round_trips": gateway.counter.round_trips,
            "retried_parts": gateway.counter.retries,
            "seconds": round(elapsed, 2),
            "google_minutes": round(elapsed / scale / 60, 1),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=1500)
    parser.add_argument("--window", type=float, default=2.0, help="seconds standing for 60")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [
        run_one(args.writes, size, args.window, paced) for paced in (True, False) for size in sizes
    ]
    header = (
        "pacing",
        "batch",
        "ok",
        "rate-limited",
        "units",
        "round trips",
        "retried",
        "min @Google",
    )
    print(
        f"{args.writes} inserts; sandbox quota 600/min per user (window scaled to {args.window} s)"
    )
    print("  ".join(f"{h:>12}" for h in header))
    for r in rows:
        cells = (
            "500/min" if r["paced"] else "none",
            r["batch_size"],
            r["ok"],
            r["rate_limited"],
            r["units"],
            r["round_trips"],
            r["retried_parts"],
            r["google_minutes"],
        )
        print("  ".join(f"{c!s:>12}" for c in cells))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"writes": args.writes, "window": args.window, "runs": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
