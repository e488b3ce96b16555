"""DB loss after cutover: the SQLite file (and its WAL) is deleted; the installation id file
and the token store survive. The user signs the accounts in again and re-enables the
calendars (both lived in the DB); the next cycle rebuilds the state from Google's
`calsync_*` markers (ours by `calsync_instance`): no write at all, no duplicate block,
Google unchanged, invariants hold, and the following cycles are idle."""

from __future__ import annotations

from pathlib import Path

from calsync_tui.settings import save_settings
from tests.engine.world import iter_blocks
from tests.migration.conftest import Mess
from tests.proof.test_crash import _integrity


def _to_cutover(m: Mess, tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    for argv in (
        ("migrate", "discover"),
        ("migrate", "prepare"),
        ("migrate", "plan", "--out", str(plan)),
        ("migrate", "backfill", "--plan", str(plan), "--yes"),
        ("migrate", "rollout", "--percent", "100"),
    ):
        code, _, err = m.cli(*argv)
        assert code == 0, (argv, err)
    for _ in range(3):
        assert m.world.sync().failed == 0
    assert m.cli_json("migrate", "cutover", "--yes")["complete"]
    m.world.sync()


def test_db_deleted_after_cutover_rebuilds_from_markers(mess: Mess, tmp_path: Path) -> None:
    m, w = mess, mess.world
    _to_cutover(m, tmp_path)
    w.assert_ok()
    before = m.google()
    blocks_before = {cal: len(list(iter_blocks(ev))) for cal, ev in before.items()}
    instance = w.ctx.installation_id
    save_settings(w.home, w.settings)
    w.ctx.close()
    for p in w.home.root.glob("calsync.db*"):
        p.unlink()
    assert w.home.installation_id_path.exists()

    m.sandbox.reset_stats()
    for email, token in w.tokens.items():
        code, _, err = m.cli("auth", "token", "--email", email, "--token", token)
        assert code == 0, err
    code, _, err = m.cli("calendars", "enable", m.a, m.b, m.c)
    assert code == 0, err
    report = m.cli_json("sync", "--once")
    assert report["mutations"] == {} and report["failed"] == 0, report
    assert report["classes"].get("busy_block", 0) == sum(blocks_before.values()), report
    assert report["classes"].get("external_calsync", 0) == 0, report
    assert m.sandbox.stats()["writes"] == 0

    after = m.google()
    assert after == before
    _integrity(w)
    w.ctx = type(w.ctx)(w.home, w.settings)  # closed by the fixture
    assert w.ctx.installation_id == instance
    for _ in range(2):
        r = w.sync()
        assert not r.planned and r.failed == 0, r.planned
    w.assert_ok()
