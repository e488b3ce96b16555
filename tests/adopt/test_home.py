"""`home export` / `home import`: the installation id, settings and accounts travel (never
tokens); a malformed file, or one that would replace another installation id without
--force, is refused in one line and changes nothing. After an import, signing in and
enabling the calendars again is the DB-loss recovery: no write, nothing doubled."""

from __future__ import annotations

import contextlib
import io
import json
import stat
from pathlib import Path

import pytest

from calsync_tui.cli import main
from calsync_tui.google.accounts import register_static_token
from calsync_tui.home import AppHome
from tests.adopt.conftest import Reinstall
from tests.engine.world import World


def test_export_import_round_trip_then_sync_writes_nothing(
    reinstall: Reinstall, tmp_path: Path
) -> None:
    r = reinstall
    old_id = r.old.ctx.installation_id
    (r.old.home.config_path).write_text(json.dumps({"requests_per_minute": 10000, "batch_size": 7}))
    file = tmp_path / "calsync-home.json"
    out = r.cli_json(r.old, "home", "export", str(file))
    assert out["installation_id"] == old_id
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    text = file.read_text()
    for token in r.old.tokens.values():
        assert token not in text
    doc = json.loads(text)
    assert doc["settings"] == {"requests_per_minute": 10000, "batch_size": 7}
    assert sorted(a["email"] for a in doc["accounts"]) == ["ann@example.com", "bob@example.com"]
    assert doc["enabled_calendars"] == sorted([r.a, r.b, r.c])

    fresh = World(r.sandbox, tmp_path / "fresh", requests_per_minute=10_000)
    try:
        fresh.ctx.close()
        got = r.cli_json(fresh, "home", "import", str(file))
        assert got["installation_id"] == old_id and got["replaced"] is None
        assert sorted(got["accounts_added"]) == ["ann@example.com", "bob@example.com"]
        assert fresh.home.installation_id() == old_id
        assert json.loads(fresh.home.config_path.read_text())["batch_size"] == 7
        assert stat.S_IMODE(fresh.home.config_path.stat().st_mode) == 0o600
        st = r.cli_json(fresh, "status")
        assert all(a["needs_signin"] for a in st["accounts"])
        for email, token in r.old.tokens.items():  # sign in again on the new machine
            register_static_token(fresh.home, fresh.ctx.store, email, token)
        fresh.enable(r.a, r.b, r.c)
        fresh.ctx.close()
        before = r.google()
        r.sandbox.reset_stats()
        rep = r.cli_json(fresh, "sync", "--once")
        assert rep["mutations"] == {} and rep["failed"] == 0
        assert rep["classes"]["busy_block"] == 14 and "external_calsync" not in rep["classes"]
        assert rep["foreign_installations"] == []
        assert r.sandbox.stats()["writes"] == 0 and r.google() == before
    finally:
        fresh.close()


def test_import_refuses_to_replace_another_installation_without_force(
    reinstall: Reinstall, tmp_path: Path
) -> None:
    r = reinstall
    old_id, new_id = r.old.ctx.installation_id, r.new.ctx.installation_id
    file = tmp_path / "h.json"
    assert r.cli(r.old, "home", "export", str(file))[0] == 0
    code, out, err = r.cli(r.new, "home", "import", str(file))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"already is installation {new_id}" in err
    assert r.new.home.installation_id() == new_id
    got = r.cli_json(r.new, "home", "import", str(file), "--force")
    assert got["replaced"] == new_id and r.new.home.installation_id() == old_id


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("not json {", "not JSON"),
        ('{"format": "something else"}', "not a calsync-tui home file"),
        (
            '{"format": "calsync-tui home", "version": 1, "installation_id": "nope"}',
            "installation_id is not a UUID",
        ),
        (
            '{"format": "calsync-tui home", "version": 1, '
            '"installation_id": "6f1b7c2e-9a7d-4f1e-8a53-2f0c8e4b9d11", '
            '"accounts": [{"email": "a@b.c", "refresh_token": "x"}]}',
            "never carries them",
        ),
        (
            '{"format": "calsync-tui home", "version": 1, '
            '"installation_id": "6f1b7c2e-9a7d-4f1e-8a53-2f0c8e4b9d11", '
            '"settings": {"no_such_setting": 1}}',
            "unknown setting",
        ),
        (
            '{"format": "calsync-tui home", "version": 1, '
            '"installation_id": "6f1b7c2e-9a7d-4f1e-8a53-2f0c8e4b9d11", '
            '"settings": {"batch_size": 5000}}',
            "batch_size",
        ),
    ],
)
def test_import_refuses_a_malformed_file_in_one_line(
    tmp_path: Path, content: str, says: str
) -> None:
    home = AppHome(tmp_path / "home").ensure()
    file = tmp_path / "bad.json"
    file.write_text(content)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["home", "import", str(file), "--home", str(home.root)])
    assert code == 1 and out.getvalue() == ""
    assert err.getvalue().count("\n") == 1 and says in err.getvalue(), err.getvalue()
    assert sorted(p.name for p in home.root.iterdir()) == []
