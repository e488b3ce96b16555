"""An expired token whose refresh gets `invalid_grant` marks the account, never crashes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from calsync_tui.google.accounts import open_gateway, save_account
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.tokens import StoredToken, open_token_store
from calsync_tui.home import AppHome
from calsync_tui.settings import Settings
from local_store.db import Store, open_store
from local_store.models import Account
from tests.google.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuthServer


@pytest.fixture
def oauth() -> Iterator[FakeOAuthServer]:
    server = FakeOAuthServer().start()
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppHome:
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "file")
    return AppHome(tmp_path / "home").ensure()


@pytest.fixture
def store(home: AppHome) -> Iterator[Store]:
    with open_store(home.db_path, home.backups_dir) as s:
        yield s


def _expired(email: str, oauth: FakeOAuthServer, refresh_token: str) -> StoredToken:
    return StoredToken(
        email=email,
        kind="oauth",
        token="old-access",
        refresh_token=refresh_token,
        expiry="2000-01-01T00:00:00+00:00",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_uri=f"{oauth.url}/token",
        scopes=["https://www.googleapis.com/auth/calendar.events"],
    )


@pytest.mark.parametrize("use_store", [True, False])
def test_invalid_grant_marks_account(
    home: AppHome, store: Store, oauth: FakeOAuthServer, use_store: bool
) -> None:
    oauth.refuse_refresh = True
    open_token_store(home).put(_expired("gone@example.com", oauth, "refresh-x"))
    save_account(store, "gone@example.com", kind="oauth", scopes=[])
    # No API server needed: the refresh fails before any Calendar request is sent.
    settings = Settings(api_endpoint="http://127.0.0.1:9/").validate()
    gateway = open_gateway(home, settings, "gone@example.com", store=store if use_store else None)
    with pytest.raises(NeedsSignIn) as err:
        gateway.list_calendars()
    assert "sign in again: calsync-tui auth login" in str(err.value)
    assert "refresh-x" not in str(err.value) and "old-access" not in str(err.value)
    with store.session() as s:
        account = s.exec(select(Account).where(Account.email == "gone@example.com")).one()
    assert account.needs_signin is True
    assert account.signin_error and "invalid_grant" in account.signin_error
    assert oauth.token_requests[-1]["grant_type"] == "refresh_token"


def test_missing_credentials_need_signin(home: AppHome) -> None:
    with pytest.raises(NeedsSignIn, match="no stored credentials"):
        open_gateway(home, Settings(), "nobody@example.com")
