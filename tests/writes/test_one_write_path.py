"""One write path: only `calsync_tui.writes` calls the gateway's `execute`, and every
origin's journal rows read the same way (the `_fill_befores` regression)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from sqlmodel import select

from calsync_tui.writes.ids import correlation_of, event_id_for, generation_of
from calsync_tui.writes.record import record_of
from local_store.models import Mutation
from tests.engine.world import when
from tests.migration.conftest import Mess

PACKAGE = Path(__file__).resolve().parents[2] / "calsync_tui"


def _gateway_execute_calls(path: Path) -> list[int]:
    """Lines calling `<something>.execute(..., batch_size=...)`: the gateway's batch call
    (SQLAlchemy's `execute` never takes `batch_size`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "execute"
            and any(k.arg == "batch_size" for k in node.keywords)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_write_path_calls_the_gateways_execute() -> None:
    outside = {
        f"{p.relative_to(PACKAGE)}:{line}"
        for p in PACKAGE.rglob("*.py")
        if "writes" not in p.relative_to(PACKAGE).parts
        and p.relative_to(PACKAGE).parts[0] not in ("google", "sandbox")
        for line in _gateway_execute_calls(p)
    }
    assert outside == set()
    inside = [p for p in (PACKAGE / "writes").rglob("*.py") if _gateway_execute_calls(p)]
    assert inside  # the check finds the calls it is looking for


def test_block_ids_carry_their_generation() -> None:
    cid = "6f1b7c2e-9a7d-4f1e-8a53-2f0c8e4b9d11"
    first, later = event_id_for(cid), event_id_for(cid, 3)
    assert first == cid.replace("-", "") and later == first + "g3"
    assert generation_of(first) == 0 and generation_of(later) == 3
    assert correlation_of(later) == cid and generation_of("someoneelses") is None
    assert set(later) <= set("0123456789abcdefghijklmnopqrstuv")  # base32hex


def test_prior_state_of_a_block_the_migration_inserted_holds_no_journal_keys(
    mess: Mess, tmp_path: Path
) -> None:
    """Regression: a block the backfill inserted, not listed in a later cycle, got a
    "before" state folded from the migration's `{"body", "result", "adopted"}` form, so
    rollback would have restored those keys onto the event."""
    m = mess
    m.cli_json("migrate", "discover")
    assert m.cli_json("migrate", "prepare")["gate"]["passed"]
    plan = tmp_path / "plan.json"
    m.cli_json("migrate", "plan", "--out", str(plan))
    assert m.cli_json("migrate", "backfill", "--plan", str(plan), "--yes")["gate"]["passed"]
    first = m.world.sync()  # full listings; sync tokens from here on
    assert first.failed == 0, first.errors
    s, e = when(2, hours=16)
    m.sandbox.patch_event(m.a, m.ids["lunch"], {"start": s, "end": e})
    moved = m.world.sync()  # incremental: the blocks on C are not listed
    assert moved.failed == 0, moved.errors
    with m.world.ctx.store.session() as sess:
        rows = list(sess.exec(select(Mutation).order_by(Mutation.id)))  # type: ignore[arg-type]
    inserted = {
        (r.calendar_id, r.google_event_id)
        for r in rows
        if r.origin == "migration" and r.op == "insert"
    }
    patches = [
        r
        for r in rows
        if r.origin == "sync" and r.op == "patch" and (r.calendar_id, r.google_event_id) in inserted
    ]
    assert patches, "the lunch block on C follows its source"
    for row in patches:
        before = json.loads(row.before_json or "{}")
        assert not {"body", "result", "adopted"} & set(before), before
        sent = next(
            record_of(r).body
            for r in rows
            if r.origin == "migration"
            and (r.calendar_id, r.google_event_id) == (row.calendar_id, row.google_event_id)
        )
        assert sent is not None
        assert before["extendedProperties"] == sent["extendedProperties"]
