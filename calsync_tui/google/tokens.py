"""Where credentials live: the OS keyring when one is usable, else a 0600 JSON file.

`CALSYNC_TOKEN_STORE=file|keyring|auto` (default auto) forces a backend; tests and CI
use `file`. Entries are per account email. Secrets never reach logs, reprs or errors.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from calsync_tui.errors import CalsyncError
from calsync_tui.home import AppHome, write_private

KEYRING_SERVICE = "calsync-tui"
TOKEN_STORE_ENV = "CALSYNC_TOKEN_STORE"


@dataclass
class StoredToken:
    """One account's credentials. Secret fields are kept out of `repr`."""

    email: str
    kind: str = "oauth"  # oauth | static
    token: str | None = field(default=None, repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    expiry: str | None = None  # ISO 8601 UTC
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token_uri: str | None = None
    scopes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredToken:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        if "email" not in known:
            raise ValueError("token entry without email")
        return cls(**known)

    def public(self) -> dict[str, Any]:
        """What `auth status` may show: everything except secrets."""
        return {
            "email": self.email,
            "kind": self.kind,
            "scopes": list(self.scopes),
            "expiry": self.expiry,
            "refreshable": bool(self.refresh_token),
        }


class TokenStore(Protocol):
    name: str

    def get(self, email: str) -> StoredToken | None: ...

    def put(self, token: StoredToken) -> None: ...

    def delete(self, email: str) -> bool: ...


class FileTokenStore:
    """`tokens.json` in the home, mode 0600, rewritten atomically."""

    name = "file"

    def __init__(self, path: os.PathLike[str] | str) -> None:
        from pathlib import Path

        self.path = Path(path)

    def _load(self) -> dict[str, dict[str, Any]]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise CalsyncError(
                f"{self.path} is not valid JSON; delete it and sign in again"
            ) from None
        accounts = data.get("accounts") if isinstance(data, dict) else None
        if not isinstance(accounts, dict):
            raise CalsyncError(f"{self.path} has no 'accounts' object; delete it and sign in again")
        return accounts

    def _save(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_private(self.path, json.dumps({"version": 1, "accounts": accounts}, indent=2))

    def get(self, email: str) -> StoredToken | None:
        entry = self._load().get(email)
        if entry is None:
            return None
        try:
            return StoredToken.from_json(entry)
        except (TypeError, ValueError):
            raise CalsyncError(
                f"stored credentials for {email} are damaged; {_relogin(email)}"
            ) from None

    def put(self, token: StoredToken) -> None:
        accounts = self._load()
        accounts[token.email] = token.to_json()
        self._save(accounts)

    def delete(self, email: str) -> bool:
        accounts = self._load()
        if email not in accounts:
            return False
        del accounts[email]
        self._save(accounts)
        return True


class KeyringTokenStore:
    """The OS keyring (one entry per account, JSON), namespaced by the home path."""

    name = "keyring"

    def __init__(self, home: AppHome) -> None:
        self.service = f"{KEYRING_SERVICE}:{home.root.resolve()}"

    def get(self, email: str) -> StoredToken | None:
        import keyring

        try:
            raw = keyring.get_password(self.service, email)
        except Exception:
            return None
        if raw is None:
            return None
        try:
            return StoredToken.from_json(json.loads(raw))
        except (TypeError, ValueError):
            raise CalsyncError(
                f"stored credentials for {email} are damaged; {_relogin(email)}"
            ) from None

    def put(self, token: StoredToken) -> None:
        import keyring

        keyring.set_password(self.service, token.email, json.dumps(token.to_json()))

    def delete(self, email: str) -> bool:
        import keyring
        import keyring.errors

        try:
            keyring.delete_password(self.service, email)
        except keyring.errors.PasswordDeleteError:
            return False
        return True


def _relogin(email: str) -> str:
    return "sign in again: calsync-tui auth login"


def keyring_usable() -> bool:
    """A real keyring backend is configured (not fail/null, not an empty chainer)."""
    try:
        import keyring
        from keyring.backends import chainer, fail

        backend = keyring.get_keyring()
    except Exception:
        return False
    if isinstance(backend, fail.Keyring):
        return False
    if type(backend).__module__.endswith("null"):
        return False
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return False
    try:
        return float(getattr(backend, "priority", 1)) > 0
    except Exception:
        return False


class LayeredTokenStore:
    """Keyring first, file as fallback (a keyring may fail at write time, e.g. locked)."""

    name = "keyring"

    def __init__(self, keyring_store: KeyringTokenStore, file_store: FileTokenStore) -> None:
        self.keyring = keyring_store
        self.file = file_store

    def get(self, email: str) -> StoredToken | None:
        return self.keyring.get(email) or self.file.get(email)

    def put(self, token: StoredToken) -> None:
        try:
            self.keyring.put(token)
        except Exception:
            self.file.put(token)
            self.name = "file"
            return
        self.file.delete(token.email)  # never keep a stale second copy

    def delete(self, email: str) -> bool:
        a = False
        try:
            a = self.keyring.delete(email)
        except Exception:
            a = False
        b = self.file.delete(email)
        return a or b


def open_token_store(home: AppHome) -> TokenStore:
    """The store this home uses, per `CALSYNC_TOKEN_STORE` (file | keyring | auto)."""
    choice = os.environ.get(TOKEN_STORE_ENV, "auto").strip().lower() or "auto"
    if choice not in ("file", "keyring", "auto"):
        raise CalsyncError(f"{TOKEN_STORE_ENV} must be file, keyring or auto, not {choice!r}")
    file_store = FileTokenStore(home.tokens_path)
    if choice == "file":
        return file_store
    if choice == "keyring" or keyring_usable():
        if choice == "keyring" and not keyring_usable():
            raise CalsyncError(f"{TOKEN_STORE_ENV}=keyring but no usable OS keyring was found")
        return LayeredTokenStore(KeyringTokenStore(home), file_store)
    return file_store
