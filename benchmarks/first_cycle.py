"""Where the first sync cycle of the demo world spends its time (not a timed test).

The console's way: `sandbox serve` in one child process (the demo world, as
`calsync-tui demo` builds it), the engine's `sync --once --progress-jsonl` in another,
the product's settings as the demo writes them. The engine child runs under a shim that
sums every `time.sleep` by who called it (the gateway's backoff after a refused call,
the client's pacer) and every HTTP round trip (`httplib2.Http.request`, wall time from
sending a request to its whole answer: the sandbox's work and the wire), and reports its
own CPU time. The sandbox's CPU time is read from /proc, its refusals from its counters.

    wall = sleeps (backoff + pacer) + HTTP round trips + client work outside them
           (+ waiting for a CPU on a loaded machine)

The sandbox's limits run on the sandbox's own clock (real time plus an offset the
harness may move, `World.now()`), the client's backoff and pacer on `time.monotonic`:
here neither is moved, so a second is a second on both sides.

Run: `python -m benchmarks.first_cycle [--events 10000] [--no-write]`; writes
benchmarks/results/first_cycle.json (`--no-write`: print only).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "first_cycle.json"
ENV_OUT = "CALSYNC_BENCH_SHIM_OUT"


# --- the engine child's shim (installed before calsync_tui is imported) ------------------


def _install_shim(out_path: str) -> None:
    """Count sleeps by caller and HTTP round trips; dump them and the CPU time at exit."""
    import atexit
    import threading

    import httplib2

    lock = threading.Lock()
    t0 = time.monotonic()
    sleeps: list[dict[str, Any]] = []
    http = {"requests": 0, "seconds": 0.0}
    real_sleep = time.sleep
    real_request = httplib2.Http.request

    def sleep(seconds: float) -> None:
        caller = sys._getframe(1)
        where = f"{Path(caller.f_code.co_filename).stem}.{caller.f_code.co_qualname}"
        start = time.monotonic()
        real_sleep(seconds)
        with lock:
            sleeps.append(
                {"at_s": round(start - t0, 3), "s": round(time.monotonic() - start, 3), "by": where}
            )

    def request(self: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return real_request(self, *args, **kwargs)
        finally:
            with lock:
                http["requests"] += 1
                http["seconds"] += time.monotonic() - start

    def dump() -> None:
        cpu = os.times()
        Path(out_path).write_text(
            json.dumps(
                {
                    "sleeps": sleeps,
                    "http": http,
                    "cpu_s": round(cpu.user + cpu.system, 2),
                    "wall_s": round(time.monotonic() - t0, 2),
                }
            )
        )

    time.sleep = sleep
    httplib2.Http.request = request  # type: ignore[method-assign]
    atexit.register(dump)


def _child(argv: list[str]) -> int:
    _install_shim(os.environ[ENV_OUT])
    from calsync_tui.cli import main as cli_main

    return cli_main(argv)


# --- the parent ---------------------------------------------------------------------------


def _proc_cpu(pid: int) -> float:
    """utime + stime of a live process, seconds (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sleep_split(sleeps: list[dict[str, Any]]) -> dict[str, Any]:
    by: dict[str, dict[str, float]] = {}
    for s in sleeps:
        kind = (
            "backoff"
            if s["by"].startswith("backoff.")
            else "pacer"
            if s["by"].startswith("pacer.")
            else s["by"]
        )
        slot = by.setdefault(kind, {"n": 0, "s": 0.0})
        slot["n"] += 1
        slot["s"] = round(slot["s"] + s["s"], 3)
    return by


def measure(events: int, seed: int = 7) -> dict[str, Any]:
    from calsync_tui.commands.demo import DEMO_SETTINGS, demo_world

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t_build = time.monotonic()
        with demo_world(root / "home", seed=seed, events=events, in_process=False) as demo:
            built_s = time.monotonic() - t_build
            sandbox_pid = demo.server.proc.pid
            demo.server.reset_stats()
            sandbox_cpu0 = _proc_cpu(sandbox_pid)
            shim_out = root / "shim.json"
            argv = [sys.executable, "-m", "benchmarks.first_cycle", "--child", "--"]
            argv += ["--home", str(demo.home.root), "--api-endpoint", demo.api_endpoint]
            argv += ["sync", "--once", "--progress-jsonl"]
            env = {**os.environ, ENV_OUT: str(shim_out)}
            repo = Path(__file__).resolve().parent.parent
            t0 = time.monotonic()
            proc = subprocess.Popen(
                argv, cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            assert proc.stdout is not None
            marks: dict[str, float] = {}
            outcome: dict[str, Any] = {}
            for line in proc.stdout:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                kind = event.get("type")
                if kind in ("CycleStarted", "PlanReady", "CycleOutcome") and kind not in marks:
                    marks[kind] = round(time.monotonic() - t0, 2)
                if kind == "CycleOutcome":
                    outcome = event
            err = proc.stderr.read() if proc.stderr else ""
            code = proc.wait()
            wall = time.monotonic() - t0
            sandbox_cpu = _proc_cpu(sandbox_pid) - sandbox_cpu0
            stats = demo.server.stats()
        if code != 0:
            raise RuntimeError(f"sync exited {code}: {err.strip()[-500:]}")
        shim = json.loads(shim_out.read_text())
    sleeps = _sleep_split(shim["sleeps"])
    slept = sum(v["s"] for v in sleeps.values())
    http_s = shim["http"]["seconds"]
    refused = {k: v for k, v in stats["by_status"].items() if k in ("403", "429", "503")}
    return {
        "events": events,
        "settings": DEMO_SETTINGS,
        "world_built_s": round(built_s, 1),
        "wall_s": round(wall, 2),
        "phases_s": marks,
        "summary": outcome.get("summary"),
        "writes": stats["writes"],
        "api_calls": stats["total"],
        "round_trips": stats["round_trips"],
        "by_status": stats["by_status"],
        "refused": refused,
        "split_s": {
            "sleep_backoff": (sleeps.get("backoff") or {}).get("s", 0.0),
            "sleep_pacer": (sleeps.get("pacer") or {}).get("s", 0.0),
            "http_round_trips": round(http_s, 2),
            "client_cpu": shim["cpu_s"],
            "sandbox_cpu": round(sandbox_cpu, 2),
            "client_outside_sleep_and_http": round(wall - slept - http_s, 2),
        },
        "sleeps": sleeps,
        "backoff_sleeps": [s for s in shim["sleeps"] if s["by"].startswith("backoff.")],
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--child"]:
        rest = args_in[1:]
        return _child(rest[1:] if rest[:1] == ["--"] else rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(args_in)
    result = measure(args.events, args.seed)
    text = json.dumps(result, indent=2)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
