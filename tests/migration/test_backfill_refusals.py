"""A write Google refuses during a backfill is remembered on the event, not repeated:
an accepted invitation organized outside the account refuses its stamp (the strict
sandbox answers 403 forbiddenForNonOrganizer). After a real `migrate backfill` the
refusal stands on the event's row; the next plan, backfill and cycle do not send the
same write again."""

from __future__ import annotations

import json
from pathlib import Path

from sqlmodel import col, select

from local_store.models import EventState, Mutation
from tests.engine.world import when
from tests.migration.conftest import Mess


def _stamps_of(m: Mess, event_id: str) -> list[Mutation]:
    with m.world.ctx.store.session() as s:
        return list(
            s.exec(
                select(Mutation)
                .where(Mutation.google_event_id == event_id)
                .order_by(col(Mutation.id))
            )
        )


def _plan(m: Mess, path: Path) -> str:
    code, _out, err = m.cli("migrate", "plan", "--out", str(path))
    assert code == 0, err
    plan_id: str = json.loads(path.read_text())["plan_id"]
    return plan_id


def test_a_refusal_during_the_backfill_is_remembered_and_not_repeated(
    mess: Mess, tmp_path: Path
) -> None:
    start, end = when(4, hours=14)
    invite = mess.sandbox.invite(mess.a, {"summary": "Board meeting", "start": start, "end": end})
    assert mess.cli("migrate", "discover")[0] == 0
    assert mess.cli("migrate", "prepare")[0] == 0
    first = tmp_path / "plan.json"
    _plan(mess, first)
    code, _out, err = mess.cli("migrate", "backfill", "--plan", str(first), "--yes")
    assert code == 0, err
    (stamp,) = _stamps_of(mess, invite["id"])
    assert stamp.status == "refused" and "forbiddenForNonOrganizer" in (stamp.error or "")
    with mess.world.ctx.store.session() as s:
        row = s.exec(
            select(EventState).where(
                EventState.google_event_id == invite["id"],
                EventState.created_by_us == False,  # noqa: E712
            )
        ).one()
        assert row.refusal_reason == "forbiddenForNonOrganizer"
        assert row.refusal_version is not None
    # a new plan and its backfill: the refused stamp is not planned or sent again
    second = tmp_path / "again.json"
    _plan(mess, second)
    planned = json.loads(second.read_text())["writes"]
    assert invite["id"] not in {w["event_id"] for w in planned}
    mess.sandbox.reset_stats()
    code, _out, err = mess.cli("migrate", "backfill", "--plan", str(second), "--yes")
    assert code == 0, err
    assert mess.sandbox.stats()["by_status"].get("403", 0) == 0
    assert len(_stamps_of(mess, invite["id"])) == 1
    # a hybrid cycle meets it without writing it again, and still mirrors it
    code, _out, err = mess.cli("migrate", "rollout", "--percent", "100")
    assert code == 0, err
    mess.sandbox.reset_stats()
    r = mess.world.sync()
    assert r.failed == 0 and not r.errors, r.errors
    assert mess.sandbox.stats()["by_status"].get("403", 0) == 0
    assert len([m for m in _stamps_of(mess, invite["id"]) if m.op == "stamp"]) == 1
    assert any(b["summary"].endswith("Board meeting") for b in mess.world.blocks_on(mess.b))
