"""Sign-in end to end: browser flow → email from the API → token store + Account; refresh persisted."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from calsync_tui.google.accounts import account_status, open_gateway, sign_in
from calsync_tui.google.backoff import RetryPolicy
from calsync_tui.google.errors import NeedsSignIn
from calsync_tui.google.tokens import open_token_store
from calsync_tui.home import AppHome
from calsync_tui.sandbox.server import SandboxServer
from calsync_tui.settings import Settings
from local_store.db import Store, open_store
from local_store.models import Account
from tests.google.fake_oauth import FakeOAuthServer

ME = "me@example.com"


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


def browser_for(urls: list[str]) -> threading.Thread:
    def run() -> None:
        for _ in range(1000):
            if urls:
                break
            threading.Event().wait(0.01)
        urllib.request.urlopen(urls[0], timeout=10).read()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_sign_in_refresh_and_revocation(
    home: AppHome,
    store: Store,
    oauth: FakeOAuthServer,
    sandbox: SandboxServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sandbox.add_user(ME, "access-1")  # what the fake token endpoint hands out first
    sandbox.add_user(ME, "access-2")  # ... and after one refresh
    sandbox.create_calendar(ME, "Me", calendar_id=ME)
    (home.root / "client_secret.json").write_text(json.dumps(oauth.client_config()))
    settings = Settings(api_endpoint=sandbox.url).validate()

    urls: list[str] = []
    browser = browser_for(urls)
    email = sign_in(
        home, store, settings, open_browser=False, on_url=urls.append, timeout_seconds=10
    )
    browser.join(5)
    assert email == ME
    assert capsys.readouterr().out == ""  # the console owns the terminal: nothing printed
    stored = open_token_store(home).get(ME)
    assert stored is not None and stored.kind == "oauth" and stored.refresh_token == "refresh-1"
    status = account_status(home, store)
    assert [(a["email"], a["kind"], a["needs_signin"]) for a in status] == [(ME, "oauth", False)]
    assert "access-1" not in json.dumps(status) and "refresh-1" not in json.dumps(status)

    # The access token expires: the next call refreshes it and the new one is saved.
    stored.expiry = "2000-01-01T00:00:00+00:00"
    open_token_store(home).put(stored)
    gateway = open_gateway(home, settings, ME, store=store)
    assert [c.google_id for c in gateway.list_calendars()] == [ME]
    saved = open_token_store(home).get(ME)
    assert saved is not None and saved.token == "access-2"
    assert saved.expiry and not saved.expiry.startswith("2000")

    # The user revokes access: the next refresh gets invalid_grant.
    oauth.refuse_refresh = True
    saved.expiry = "2000-01-01T00:00:00+00:00"
    open_token_store(home).put(saved)
    gateway = open_gateway(
        home, settings, ME, store=store, policy=RetryPolicy(base=0.001, deadline=5)
    )
    with pytest.raises(NeedsSignIn):
        gateway.list_calendars()
    with store.session() as s:
        account = s.exec(select(Account).where(Account.email == ME)).one()
    assert account.needs_signin and account.signin_error

    # Signing in again clears the state.
    oauth.refuse_refresh = False
    sandbox.add_user(ME, "access-3")
    urls.clear()
    browser = browser_for(urls)
    assert (
        sign_in(home, store, settings, open_browser=False, on_url=urls.append, timeout_seconds=10)
        == ME
    )
    browser.join(5)
    assert account_status(home, store)[0]["needs_signin"] is False


def test_oauth_login_returns_email_and_credentials(
    tmp_path: Path, oauth: FakeOAuthServer, sandbox: SandboxServer
) -> None:
    from calsync_tui.google.oauth import login

    sandbox.add_user("work@example.com", "access-1")
    sandbox.create_calendar("work@example.com", "Work", calendar_id="work@example.com")
    secrets = tmp_path / "client_secret.json"
    secrets.write_text(json.dumps(oauth.client_config()))
    urls: list[str] = []
    browser = browser_for(urls)
    email, creds = login(
        secrets,
        open_browser=False,
        settings=Settings(api_endpoint=sandbox.url).validate(),
        on_url=urls.append,
        timeout_seconds=10,
    )
    browser.join(5)
    assert email == "work@example.com"
    assert creds.token == "access-1" and creds.refresh_token == "refresh-1"
