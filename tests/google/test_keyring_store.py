"""With a usable keyring (a real `keyring` backend, in memory), tokens go there, not to a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from jaraco.classes import properties
from keyring.backend import KeyringBackend

from calsync_tui.google.tokens import StoredToken, keyring_usable, open_token_store
from calsync_tui.home import AppHome

ACTIVE = False  # outside the fixture the class must not join keyring's backend discovery


class MemoryKeyring(KeyringBackend):
    @properties.classproperty
    def priority(cls) -> float:
        if not ACTIVE:
            raise RuntimeError("only inside the memory_keyring fixture")
        return 1.0

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    global ACTIVE
    previous = keyring.get_keyring()
    ACTIVE = True
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        ACTIVE = False
        keyring.set_keyring(previous)


def test_keyring_used_when_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    monkeypatch.setenv("CALSYNC_TOKEN_STORE", "auto")
    assert keyring_usable()
    home = AppHome(tmp_path / "home").ensure()
    store = open_token_store(home)
    assert store.name == "keyring"
    store.put(StoredToken(email="a@example.com", kind="static", token="SECRET-1"))
    assert not home.tokens_path.exists()  # nothing on disk
    assert len(memory_keyring.items) == 1
    got = open_token_store(home).get("a@example.com")
    assert got is not None and got.token == "SECRET-1"
    assert open_token_store(home).delete("a@example.com")
    assert memory_keyring.items == {}


def test_fail_keyring_is_not_usable(monkeypatch: pytest.MonkeyPatch) -> None:
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        assert not keyring_usable()
    finally:
        keyring.set_keyring(previous)
