"""Far-ahead instances (issue 15): 50 unbounded weekly series on one calendar, mirrored
and stamped; Google then answers the next incremental listing with each changed series'
instances for years ahead (the strict sandbox: 730 per series). Measures that next
cycle's time, the store's size after it, and one more cycle, with the engine's keep rule
(rows only inside the window plus its margin, engine/window.py) and without it
(`--keep-all`: every listed instance stored, the behaviour before).

Run: `python -m benchmarks.far_ahead [--series 50] [--keep-all]`; writes
benchmarks/results/far_ahead.json (both variants when run without --keep-all).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.run import _context, _unpaced
from benchmarks.sandbox_proc import ANN, TOKENS

RESULTS = Path(__file__).parent / "results"


def _db_bytes(ctx: Any) -> int:
    path = Path(ctx.store.db_path)
    total = 0
    for suffix in ("", "-wal"):
        p = Path(str(path) + suffix)
        if p.exists():
            total += p.stat().st_size
    return total


def _rows(ctx: Any) -> int:
    with ctx.store.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM eventstate").scalar() or 0)


def measure(series: int, keep_all: bool) -> dict[str, Any]:
    _unpaced()
    from calsync_tui.engine import persist
    from calsync_tui.engine.cycle import run_cycle
    from calsync_tui.sandbox.server import SandboxServer

    if keep_all:  # the behaviour before: every listed instance gets a row
        persist._outside = lambda event, keep: False  # type: ignore[attr-defined]
    with SandboxServer(quota_per_user=None, quota_per_project=None) as sb:
        sb.add_user(ANN, TOKENS[ANN])
        work = sb.create_calendar(ANN, "Work", "UTC", ANN)
        home = sb.create_calendar(ANN, "Personal", "UTC", None)
        base = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
        for i in range(series):
            start = base + timedelta(days=i % 7, hours=i % 8)
            sb.put_event(
                work,
                {
                    "summary": f"Weekly {i}",
                    "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%SZ"), "timeZone": "UTC"},
                    "end": {
                        "dateTime": (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "timeZone": "UTC",
                    },
                    "recurrence": ["RRULE:FREQ=WEEKLY"],
                },
            )
        with tempfile.TemporaryDirectory() as d:
            ctx = _context(Path(d), sb.url, [work, home])
            first = run_cycle(ctx)  # blocks for the window's instances, masters stamped
            t0 = time.perf_counter()
            nxt = run_cycle(ctx)  # the stamped series come back, far ahead
            next_ms = (time.perf_counter() - t0) * 1000
            size = _db_bytes(ctx)
            rows = _rows(ctx)
            t0 = time.perf_counter()
            run_cycle(ctx)
            after_ms = (time.perf_counter() - t0) * 1000
            out = {
                "series": series,
                "keep_all": keep_all,
                "first_cycle_mutations": first.mutations,
                "next_cycle_events_listed": nxt.events_listed,
                "next_cycle_ms": round(next_ms, 1),
                "next_cycle_failed": nxt.failed,
                "eventstate_rows": rows,
                "db_bytes": size,
                "cycle_after_ms": round(after_ms, 1),
            }
            ctx.close()
            return out


def _child(conn: Any, series: int, keep_all: bool) -> None:
    try:
        conn.send({"ok": measure(series, keep_all)})
    except Exception as exc:  # reported, never hidden
        conn.send({"error": f"{exc.__class__.__name__}: {exc}"})


def isolated(series: int, keep_all: bool) -> dict[str, Any]:
    """One variant in a fresh process (the --keep-all patch must not leak)."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, series, keep_all))
    proc.start()
    msg: dict[str, Any] = parent.recv()
    proc.join()
    return msg.get("ok") or {"error": msg.get("error")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--keep-all", action="store_true", help="only the 'before' variant")
    args = parser.parse_args(argv)
    variants = [True] if args.keep_all else [True, False]
    result = {
        ("before_keep_all" if v else "after_window_margin"): isolated(args.series, v)
        for v in variants
    }
    print(json.dumps(result, indent=1))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "far_ahead.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
