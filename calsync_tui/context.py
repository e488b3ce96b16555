"""What a command needs, built once from the parsed CLI arguments.

The store and gateways open lazily: `status --help` or a usage error never touches the DB,
and a command that only reads settings never opens a network client. The context sits
below the faces and the service and above the store and the Google layer: it imports
them (lazily), they never import it.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from calsync_tui.home import AppHome, open_home
from calsync_tui.settings import Settings, load_settings

if TYPE_CHECKING:
    from calsync_tui.google.types import Gateway
    from local_store.db import Store


class AppContext:
    """Home, settings, installation id, the store and one gateway per account.

    Use as a context manager (or call `close()`) so the store's engines are disposed.
    """

    def __init__(self, home: AppHome, settings: Settings) -> None:
        self.home = home
        self.settings = settings
        self._store: Store | None = None
        self._gateways: dict[str, Gateway] = {}

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AppContext:
        home = open_home(getattr(args, "home", None))
        settings = load_settings(home, getattr(args, "api_endpoint", None))
        return cls(home, settings)

    @property
    def installation_id(self) -> str:
        return self.home.installation_id()

    @property
    def store(self) -> Store:
        """The local store, opened (and upgraded after a backup) on first use."""
        if self._store is None:
            from local_store.db import open_store

            self._store = open_store(self.home.db_path, self.home.backups_dir)
        return self._store

    @property
    def store_is_open(self) -> bool:
        return self._store is not None

    def gateway_for(self, account_email: str) -> Gateway:
        """The Google gateway of one signed-in account (cached per context)."""
        if account_email not in self._gateways:
            from calsync_tui.google.accounts import open_gateway

            self._gateways[account_email] = open_gateway(self.home, self.settings, account_email)
        return self._gateways[account_email]

    def close(self) -> None:
        for gateway in self._gateways.values():
            closer = getattr(gateway, "close", None)
            if callable(closer):
                closer()
        self._gateways.clear()
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> AppContext:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
