"""Every benchmark in one run (`make bench`): API cost vs the minimum and vs the seed's
naive loop, inventory throughput at 50,000 events, the one-change incremental cycle, and
the console's and the Google layer's own benchmark scripts. Prints a table and writes
benchmarks/results/latest.json with the machine it ran on.

Run: `python -m benchmarks.run [--full] [--quick]`. `--full` adds the 50k API-cost row.

Client pacing is switched off for the measurements (the product paces at 500 calls a
minute, so a 20,000-write backfill takes 40 minutes on Google by quota alone; the table
shows that time too). Counted calls are unaffected: the sandbox counts every request.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.sandbox_proc import ANN, BOB, TOKENS, RemoteSandbox

RESULTS = Path(__file__).parent / "results"
LIST_PAGE = 2500  # maxResults per events.list page
PRODUCT_RPM = 500  # the product's default pacing (Settings.requests_per_minute)


# --- client side -----------------------------------------------------------------------


def _unpaced() -> None:
    """Measure calls, not the pacer's waits (see the module docstring)."""
    from calsync_tui.google import pacer

    def acquire(self: pacer.Pacer, n: int = 1, *, writes_to: Sequence[str] = ()) -> float:
        return 0.0

    pacer.Pacer.acquire = acquire  # type: ignore[method-assign]


def _context(root: Path, url: str, enable: list[str], account: str = ANN) -> Any:
    """A fresh home on the sandbox: static token, calendars refreshed and enabled."""
    from calsync_tui.context import AppContext
    from calsync_tui.engine.calendars import refresh_calendars, set_enabled
    from calsync_tui.google.accounts import register_static_token
    from calsync_tui.home import AppHome
    from calsync_tui.settings import load_settings, save_settings

    home = AppHome(root).ensure()
    settings = load_settings(home, url)
    settings.requests_per_minute = 10_000
    settings.extra = {"backoff_base": 0.005, "backoff_cap": 0.05, "quota_pause": 0.05}
    save_settings(home, settings)
    settings = load_settings(home, url)
    ctx = AppContext(home, settings)
    register_static_token(home, ctx.store, account, TOKENS[account])
    refresh_calendars(ctx.store, ctx.gateway_for)
    set_enabled(ctx.store, enable, True)
    return ctx


def _cost(stats: dict[str, Any]) -> dict[str, int]:
    by = stats["by_method"]
    return {
        "units": int(stats["total"]),
        "round_trips": int(stats["round_trips"]),
        "writes": int(stats["writes"]),
        "list_calls": int(by.get("calendar.events.list", 0)),
    }


def _minimum(writes: int, list_pages: int, batch: int) -> dict[str, int]:
    return {"units": writes + list_pages, "round_trips": math.ceil(writes / batch) + list_pages}


def _ratio(used: dict[str, int], minimum: dict[str, int]) -> dict[str, float]:
    return {k: round(used[k] / minimum[k], 3) if minimum[k] else 0.0 for k in minimum}


def _pages(events_per_calendar: list[int]) -> int:
    return sum(max(1, math.ceil(n / LIST_PAGE)) for n in events_per_calendar)


def engine_cost(n_events: int) -> dict[str, Any]:
    """Steady-state sync: first mirroring cycle (stamps + inserts), idle, one change.

    The world holds n_events/2 meetings on one calendar; mirroring adds one block each on
    the other, so n_events live events afterwards."""
    _unpaced()
    from calsync_tui.engine.cycle import run_cycle
    from calsync_tui.sandbox.client import service_for

    sources = n_events // 2
    with RemoteSandbox({"kind": "mirror", "n": sources}) as sb, tempfile.TemporaryDirectory() as d:
        ctx = _context(Path(d), sb.url, sb.info["enable"])
        batch = ctx.settings.batch_size
        sb.reset_stats()
        t0 = time.perf_counter()
        first = run_cycle(ctx)
        first_s = time.perf_counter() - t0
        used = _cost(sb.stats())
        minimum = _minimum(used["writes"], _pages([sources, 0]), batch)
        # the seed's loop: one get + one write per written event, each its own request
        naive = 2 * used["writes"] + _pages([sources, 0])
        out: dict[str, Any] = {
            "events": n_events,
            "first_cycle": {
                **used,
                "seconds": round(first_s, 2),
                "minimum": minimum,
                "ratio": _ratio(used, minimum),
                "naive": {"units": naive, "round_trips": naive},
                "google_minutes_at_product_pace": round(used["units"] / PRODUCT_RPM, 1),
                "failed": first.failed,
            },
        }
        settle = run_cycle(ctx)  # lists the first cycle's own stamps once, writes nothing
        out["first_cycle"]["settle_cycle"] = {
            "list_calls": settle.api_calls,
            "writes": sum(settle.mutations.values()),
        }
        sb.reset_stats()
        t0 = time.perf_counter()
        run_cycle(ctx)
        idle_s = time.perf_counter() - t0
        used = _cost(sb.stats())
        minimum = {"units": 2, "round_trips": 2}
        out["idle_cycle"] = {
            **used,
            "ms": round(idle_s * 1000, 1),
            "minimum": minimum,
            "ratio": _ratio(used, minimum),
            # the seed looks every event up again each run: one get per event
            "naive": {"units": n_events + 2, "round_trips": n_events + 2},
        }
        svc = service_for(sb.url, TOKENS[ANN])
        first_id = svc.events().list(calendarId=sb.info["source"], maxResults=1).execute()
        eid = first_id["items"][0]["id"]
        svc.events().patch(
            calendarId=sb.info["source"], eventId=eid, body={"summary": "Moved meeting"}
        ).execute()
        sb.reset_stats()
        t0 = time.perf_counter()
        one = run_cycle(ctx)
        one_s = time.perf_counter() - t0
        used = _cost(sb.stats())
        minimum = {"units": 3, "round_trips": 3}
        out["one_change_cycle"] = {
            **used,
            "ms": round(one_s * 1000, 1),
            "minimum": minimum,
            "ratio": _ratio(used, minimum),
            "mutations": one.mutations,
        }
        ctx.close()
        return out


def _cli(home: Path, url: str, *argv: str) -> dict[str, Any]:
    from calsync_tui.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli_main([*argv, "--json", "--home", str(home), "--api-endpoint", url])
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {code}: {err.getvalue().strip()}")
    data: dict[str, Any] = json.loads(out.getvalue())
    return data


def migration_cost(n_events: int) -> dict[str, Any]:
    """Migration backfill: n_events/2 meetings and as many legacy blocks; discover,
    prepare and plan (reads), then the backfill (stamps), each step counted."""
    _unpaced()
    pairs = n_events // 2
    with RemoteSandbox({"kind": "legacy", "n": pairs}) as sb, tempfile.TemporaryDirectory() as d:
        root = Path(d)
        ctx = _context(root, sb.url, sb.info["enable"])
        batch = ctx.settings.batch_size
        ctx.close()
        steps: dict[str, Any] = {}
        pages = _pages([pairs, pairs])
        plan_file = root / "plan.json"
        for name, argv in (
            ("discover", ("migrate", "discover")),
            ("prepare", ("migrate", "prepare")),
            ("plan", ("migrate", "plan", "--out", str(plan_file))),
            ("backfill", ("migrate", "backfill", "--plan", str(plan_file), "--yes")),
        ):
            sb.reset_stats()
            t0 = time.perf_counter()
            _cli(root, sb.url, *argv)
            used = _cost(sb.stats())
            minimum = _minimum(used["writes"], pages if name != "backfill" else 0, batch)
            steps[name] = {
                **used,
                "seconds": round(time.perf_counter() - t0, 2),
                "minimum": minimum,
                "ratio": _ratio(used, minimum),
            }
        writes = steps["backfill"]["writes"]
        total_units = sum(s["units"] for s in steps.values())
        total_rt = sum(s["round_trips"] for s in steps.values())
        journey_min = _minimum(writes, pages, batch)
        return {
            "events": n_events,
            "steps": steps,
            "journey": {
                "units": total_units,
                "round_trips": total_rt,
                "minimum": journey_min,
                "ratio": _ratio({"units": total_units, "round_trips": total_rt}, journey_min),
                "naive": {"units": 2 * writes + pages, "round_trips": 2 * writes + pages},
            },
        }


def _hot_spots(prof: cProfile.Profile, top: int = 12) -> list[dict[str, Any]]:
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, func), (_cc, calls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": calls,
                "tottime_s": round(tt, 3),
                "cumtime_s": round(ct, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:top]


def inventory(n_events: int, profile: bool) -> dict[str, Any]:
    """First cycle over n_events on a calendar ann reads (nothing to write): full read,
    classify, store. Then an idle cycle and a one-change cycle over the same store."""
    _unpaced()
    from calsync_tui.engine.cycle import run_cycle
    from calsync_tui.sandbox.client import service_for

    with RemoteSandbox({"kind": "reader", "n": n_events}) as sb, tempfile.TemporaryDirectory() as d:
        ctx = _context(Path(d), sb.url, sb.info["enable"])
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sb.reset_stats()
        t0 = time.perf_counter()
        report = run_cycle(ctx)
        seconds = time.perf_counter() - t0
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        used = _cost(sb.stats())
        out: dict[str, Any] = {
            "events": n_events,
            "events_seen": report.events_seen,
            "seconds": round(seconds, 2),
            "events_per_s": round(report.events_seen / seconds),
            "peak_rss_mb": round(rss_peak / 1024, 1),
            "rss_before_mb": round(rss_before / 1024, 1),
            "writes": used["writes"],
            "list_calls": used["list_calls"],
            "target_s": 10,
        }
        run_cycle(ctx)  # settle: the next cycles are incremental
        t0 = time.perf_counter()
        run_cycle(ctx)
        out["idle_cycle_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        svc = service_for(sb.url, TOKENS[BOB])
        first = svc.events().list(calendarId=sb.info["source"], maxResults=1).execute()
        svc.events().patch(
            calendarId=sb.info["source"],
            eventId=first["items"][0]["id"],
            body={"summary": "Renamed team meeting"},
        ).execute()
        prof = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if prof:
            prof.enable()
        one = run_cycle(ctx)
        if prof:
            prof.disable()
        out["one_change_cycle_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        out["one_change_events_listed"] = one.events_listed
        out["one_change_target_ms"] = 200
        if prof:
            out["one_change_hot_spots"] = _hot_spots(prof)
        if profile:  # the inventory itself, profiled on a fresh home (same events)
            ctx2 = _context(Path(d) / "profiled", sb.url, sb.info["enable"])
            prof = cProfile.Profile()
            prof.enable()
            run_cycle(ctx2)
            prof.disable()
            out["inventory_hot_spots"] = _hot_spots(prof)
            ctx2.close()
        ctx.close()
        return out


# --- runner ------------------------------------------------------------------------------


def _child(conn: Any, name: str, kwargs: dict[str, Any]) -> None:
    try:
        conn.send({"ok": globals()[name](**kwargs)})
    except Exception as exc:  # reported in the table, never hidden
        conn.send({"error": f"{exc.__class__.__name__}: {exc}"})


def isolated(name: str, **kwargs: Any) -> dict[str, Any]:
    """Run one measurement in a fresh process, so its peak RSS and caches are its own."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_child, args=(child, name, kwargs))
    proc.start()
    msg = parent.recv()
    proc.join()
    if "error" in msg:
        return {"error": msg["error"]}
    result: dict[str, Any] = msg["ok"]
    return result


def script(module: str, *args: str, result_file: Path) -> dict[str, Any]:
    """Another owner's benchmark script as a subprocess; its JSON is included as written."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=900
    )
    if proc.returncode != 0:
        return {"error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    data: dict[str, Any] = json.loads(result_file.read_text())
    data["script_wall_s"] = round(time.perf_counter() - t0, 1)
    return data


def _last_tui() -> dict[str, Any]:
    """The console rows as benchmarks.tui_bench last wrote them (not re-run here)."""
    path = RESULTS / "tui.json"
    if not path.exists():
        return {}
    data: dict[str, Any] = json.loads(path.read_text())
    data["source"] = (
        "benchmarks/results/tui.json as benchmarks.tui_bench last wrote it (not re-run)"
    )
    return data


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def table(result: dict[str, Any]) -> str:
    """The figures people read, one line each."""
    lines = [f"{'figure':<58} {'value':>14}  target"]

    def row(name: str, value: Any, target: str = "") -> None:
        lines.append(f"{name:<58} {value!s:>14}  {target}")

    for r in result["api_cost"]["sync"]:
        if "error" in r:
            row("sync cost", r["error"][:40])
            continue
        n, f = r["events"], r["first_cycle"]
        row(
            f"sync {n}: first cycle units (min / naive)",
            f"{f['units']} ({f['minimum']['units']}/{f['naive']['units']})",
        )
        row(
            f"sync {n}: first cycle round trips (min)",
            f"{f['round_trips']} ({f['minimum']['round_trips']})",
        )
        row(
            f"sync {n}: first cycle ratio units / round trips",
            f"{f['ratio']['units']} / {f['ratio']['round_trips']}",
            "<= 1.02",
        )
        i = r["idle_cycle"]
        row(
            f"sync {n}: idle cycle calls (min) / ms",
            f"{i['units']} ({i['minimum']['units']}) / {i['ms']}",
            "1 list/calendar",
        )
        o = r["one_change_cycle"]
        row(
            f"sync {n}: one-change cycle calls (min) / ms",
            f"{o['units']} ({o['minimum']['units']}) / {o['ms']}",
        )
    for r in result["api_cost"]["migration"]:
        if "error" in r:
            row("migration cost", r["error"][:40])
            continue
        n, j, b = r["events"], r["journey"], r["steps"]["backfill"]
        row(
            f"migration {n}: backfill units (min) / ratio",
            f"{b['units']} ({b['minimum']['units']}) / {b['ratio']['units']}",
            "<= 1.02",
        )
        row(
            f"migration {n}: backfill round trips (min)",
            f"{b['round_trips']} ({b['minimum']['round_trips']})",
        )
        row(
            f"migration {n}: discover..backfill units (min / naive)",
            f"{j['units']} ({j['minimum']['units']}/{j['naive']['units']})",
        )
        row(f"migration {n}: discover..backfill ratio units", j["ratio"]["units"], "<= 1.02")
    inv = result["inventory"]
    if "error" in inv:
        row("inventory", inv["error"][:40])
    else:
        row(f"inventory {inv['events']}: seconds", inv["seconds"], "<= 10 s")
        row(f"inventory {inv['events']}: events/s", inv["events_per_s"])
        row(f"inventory {inv['events']}: peak RSS MB", inv["peak_rss_mb"])
        row(
            f"incremental one change at {inv['events']}: ms",
            inv["one_change_cycle_ms"],
            "<= 200 ms",
        )
        row(f"idle cycle at {inv['events']}: ms", inv["idle_cycle_ms"])
    fc = result.get("first_cycle", {})
    if "error" in fc:
        row("demo first cycle", fc["error"][:40])
    elif fc:
        n, split = fc["events"], fc["split_s"]
        waited = round(split["sleep_pacer"] + split["sleep_backoff"], 1)
        refused = sum(fc["refused"].get(k, 0) for k in ("403", "429"))
        row(f"demo {n}: first cycle s / writes", f"{fc['wall_s']} / {fc['writes']}")
        row(f"demo {n}: first cycle waiting on limits s / refused", f"{waited} / {refused}")
        row(
            f"demo {n}: first cycle client / sandbox CPU s",
            f"{split['client_cpu']} / {split['sandbox_cpu']}",
        )
        row(
            f"demo {n}: first cycle calls / round trips", f"{fc['api_calls']} / {fc['round_trips']}"
        )
    tui = result.get("tui", {})
    if "error" in tui:
        row("tui", tui["error"][:40])
    elif tui:
        row("tui: first frame s", tui.get("first_frame_s"), "< 1 s")
        big = tui.get("big_calendar") or {}
        row("tui: open a 50,000-event calendar s", big.get("show_calendar_s"))
        keys = tui.get("keys_during_sync") or {}
        cursor = keys.get("cursor_key_ms") or {}
        typing = keys.get("filter_typing_ms") or {}
        switch = keys.get("screen_switch_ms") or {}
        fresh = keys.get("fresh_view_after_switch_ms") or {}

        def p95(name: str) -> object:
            return (keys.get(name) or {}).get("p95")

        row(
            "tui: cursor key during sync median / p95 ms",
            f"{cursor.get('median')} / {cursor.get('p95')}",
            "<= 50 ms",
        )
        row(
            "tui: filter typing during sync median / p95 ms",
            f"{typing.get('median')} / {typing.get('p95')}",
            "<= 50 ms",
        )
        row(
            "tui: screen switch during sync median / p95 ms",
            f"{switch.get('median')} / {switch.get('p95')}",
            "<= 150 ms",
        )
        row(
            "tui: switch e / m / d during sync p95 ms",
            f"{p95('screen_switch_e_ms')} / {p95('screen_switch_m_ms')} / "
            f"{p95('screen_switch_d_ms')}",
        )
        row(
            "tui: fresh data after a switch median / p95 ms",
            f"{fresh.get('median')} / {fresh.get('p95')}",
        )
    return "\n".join(lines)


def markdown(result: dict[str, Any]) -> str:
    """The README's table: the same lines as `table`, as Markdown."""
    rows = table(result).splitlines()[1:]
    out = ["| figure | value | target |", "|---|---:|---|"]
    for line in rows:
        name, rest = line[:58].strip(), line[58:]
        value, _, target = rest.strip().partition("  ")
        out.append(f"| {name} | {value.strip()} | {target.strip()} |")
    m = result["machine"]
    out.append("")
    out.append(
        f"Machine: {m['cpu_count']} CPUs ({m['processor']}), Python {m['python']}, "
        f"{m['platform']}; run {m['date']}, {result.get('wall_s', '?')} s in all, load "
        f"average {' / '.join(str(x) for x in m.get('loadavg', []))} (1/5/15 min) at the start."
    )
    tui = result.get("tui") or {}
    if tui.get("source"):
        out.append(f"tui rows: {tui['source']}.")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add the 50k API-cost rows")
    parser.add_argument("--quick", action="store_true", help="1k rows only, 10k inventory")
    parser.add_argument(
        "--no-scripts", action="store_true", help="skip tui_bench/batch_size/first_cycle"
    )
    parser.add_argument(
        "--no-tui", action="store_true", help="skip tui_bench; its rows come from tui.json"
    )
    parser.add_argument(
        "--markdown", action="store_true", help="print latest.json as the README table; no run"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(json.loads((RESULTS / "latest.json").read_text())))
        return 0
    sizes = [1000] if args.quick else [1000, 10_000] + ([50_000] if args.full else [])
    inv_n = 10_000 if args.quick else 50_000
    t0 = time.perf_counter()
    result: dict[str, Any] = {"machine": machine(), "api_cost": {"sync": [], "migration": []}}
    for n in sizes:
        print(f"api cost at {n} events ...", flush=True)
        result["api_cost"]["sync"].append(isolated("engine_cost", n_events=n))
        result["api_cost"]["migration"].append(isolated("migration_cost", n_events=n))
    print(f"inventory at {inv_n} events ...", flush=True)
    result["inventory"] = isolated("inventory", n_events=inv_n, profile=True)
    if not args.no_scripts:
        if args.no_tui:
            result["tui"] = _last_tui()
        else:
            print("benchmarks.tui_bench ...", flush=True)
            result["tui"] = script("benchmarks.tui_bench", result_file=RESULTS / "tui.json")
        print("benchmarks.first_cycle ...", flush=True)
        result["first_cycle"] = script(
            "benchmarks.first_cycle", result_file=RESULTS / "first_cycle.json"
        )
        print("benchmarks.batch_size ...", flush=True)
        result["batch_size"] = script(
            "benchmarks.batch_size", result_file=RESULTS / "google" / "batch_size.json"
        )
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(table(result))
    print(f"machine: {json.dumps(result['machine'])}; wall {result['wall_s']} s")
    print(f"written: {RESULTS / 'latest.json'}")
    failed = [k for k, v in result.items() if isinstance(v, dict) and "error" in v]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
