"""The console's engine process (`service.engineproc`): the CLI's `sync --once
--progress-jsonl` in a child, over the real sandbox (HTTP), real SQLite, real processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlmodel import col, select

from calsync_tui.commands.demo import demo_world
from calsync_tui.engine.events import CycleStarted, MutationsProgress, PlanReady
from calsync_tui.locking import home_lock
from calsync_tui.service import engineproc
from calsync_tui.service.engineproc import CycleOutcome
from local_store.db import open_store
from local_store.models import Mutation, SyncRun


def _cli(home: Path, endpoint: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALSYNC_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "calsync_tui",
            "--home",
            str(home),
            "--api-endpoint",
            endpoint,
            *list(argv),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_progress_jsonl_is_typed_lines_then_the_outcome(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=40) as demo:
        done = _cli(demo.home.root, demo.api_endpoint, "sync", "--once", "--progress-jsonl")
        assert done.returncode == 0, done.stderr
        items = [engineproc.decode(line) for line in done.stdout.splitlines()]
        assert isinstance(items[0], CycleStarted) and not items[0].dry_run
        assert any(isinstance(i, PlanReady) and i.mutations > 0 for i in items)
        progress = [i for i in items if isinstance(i, MutationsProgress)]
        assert progress and progress[-1].done == progress[-1].total > 0
        outcome = items[-1]
        assert isinstance(outcome, CycleOutcome)
        assert outcome.summary.startswith("wrote ") and outcome.exit_code == 0
        assert outcome.report["mutations"] and outcome.classes
        # The same writes reached the sandbox that the outcome counts.
        assert demo.server.stats()["writes"] >= sum(outcome.report["mutations"].values())


def test_the_child_runs_under_the_console_lock_and_no_one_else_does(tmp_path: Path) -> None:
    with demo_world(tmp_path / "home", seed=7, events=40) as demo:
        with home_lock(demo.home, "tui"):
            # Another process is refused while the console holds the home ...
            other = _cli(demo.home.root, demo.api_endpoint, "sync", "--once", "--progress-jsonl")
            assert other.returncode == 1 and "another calsync-tui" in other.stderr
            # ... the console's own child runs under the console's lock.
            seen: list[object] = []
            outcome = engineproc.run_in_child(
                demo.home.root,
                demo.api_endpoint,
                dry_run=True,
                on_event=seen.append,
                cancel=lambda: False,
            )
        assert outcome.dry_run and outcome.summary.startswith("would write ")
        assert any(isinstance(i, CycleStarted) for i in seen)
        assert demo.server.stats()["writes"] == 0


def test_a_stopped_child_writes_nothing_after_its_batch_and_still_reports(
    tmp_path: Path,
) -> None:
    with demo_world(tmp_path / "home", seed=7, events=120) as demo:
        with home_lock(demo.home, "tui"):
            outcome = engineproc.run_in_child(
                demo.home.root,
                demo.api_endpoint,
                dry_run=False,
                on_event=lambda _ev: None,
                cancel=lambda: True,  # stop at once: SIGTERM as soon as it can take it
            )
        assert sum(outcome.report["planned"].values()) > 0
        assert sum(outcome.report["mutations"].values()) == 0
        assert demo.server.stats()["writes"] == 0
        store = open_store(demo.home.db_path, demo.home.backups_dir)
        try:
            with store.session() as s:
                assert s.exec(select(Mutation).where(col(Mutation.status) == "pending")).all() == []
                assert [r.kind for r in s.exec(select(SyncRun)).all()] == ["sync"]
        finally:
            store.close()
