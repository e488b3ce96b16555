"""Token store: file backend 0600, round trip, never a secret in repr; backend choice."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from calsync_tui.errors import CalsyncError
from calsync_tui.google.tokens import FileTokenStore, StoredToken, open_token_store
from calsync_tui.home import AppHome


def _token(email: str = "a@example.com") -> StoredToken:
    return StoredToken(
        email=email,
        kind="oauth",
        token="ya29.SECRET-ACCESS",
        refresh_token="1//SECRET-REFRESH",
        expiry="2030-01-01T00:00:00+00:00",
        client_id="cid",
        client_secret="SECRET-CLIENT",
        token_uri="https://oauth2.googleapis.com/token",
        scopes=["s1", "s2"],
    )


def test_file_store_round_trip_is_private(tmp_path: Path) -> None:
    store = FileTokenStore(tmp_path / "tokens.json")
    store.put(_token())
    store.put(_token("b@example.com"))
    assert stat.S_IMODE((tmp_path / "tokens.json").stat().st_mode) == 0o600
    got = store.get("a@example.com")
    assert got == _token()
    assert store.delete("a@example.com") is True
    assert store.delete("a@example.com") is False
    assert store.get("a@example.com") is None
    assert store.get("b@example.com") is not None


def test_secrets_stay_out_of_repr_and_public_view() -> None:
    token = _token()
    for text in (repr(token), json.dumps(token.public())):
        assert "SECRET" not in text
    assert token.public()["refreshable"] is True


def test_damaged_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    with pytest.raises(CalsyncError, match="not valid JSON"):
        FileTokenStore(path).get("a@example.com")


def test_env_forces_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = AppHome(tmp_path).ensure()
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "file")
    assert open_token_store(home).name == "file"
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "vault")
    with pytest.raises(CalsyncError, match="file, keyring or auto"):
        open_token_store(home)
    # No usable keyring (the `fail` backend): auto falls back to the file.
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "auto")
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        assert open_token_store(home).name == "file"
        monkeypatch.setenv("CALSYNC_TOKEN_STORE", "keyring")
        with pytest.raises(CalsyncError, match="no usable OS keyring"):
            open_token_store(home)
    finally:
        keyring.set_keyring(previous)
