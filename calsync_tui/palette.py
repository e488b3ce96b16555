"""Command-palette provider: the console's actions, searchable with ctrl+p."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any, ClassVar, Protocol, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider


class PaletteHost(Protocol):
    """The app actions the palette offers (`app.CalsyncApp` has them); the palette depends
    on this shape, not on the app module, so there is no app <-> palette import circle."""

    MODE_TITLES: ClassVar[dict[str, str]]

    def switch_mode(self, mode: str) -> Awaitable[Any]: ...
    def action_sync_now(self) -> None: ...
    def action_dry_run(self) -> None: ...
    def action_toggle_theme(self) -> None: ...
    def action_help(self) -> None: ...
    def run_migration_action(self, action: str) -> None: ...


def console_commands(app: PaletteHost) -> list[tuple[str, str, Callable[[], object]]]:
    """(name, help, callback) of every console action, the same ones the keys run."""
    cmds: list[tuple[str, str, Callable[[], object]]] = [
        (f"Go to {title}", f"Switch to the {title.lower()} screen", partial(app.switch_mode, mode))
        for mode, title in app.MODE_TITLES.items()
    ]
    cmds += [
        ("Sync now", "Run one sync cycle now", app.action_sync_now),
        ("Dry-run cycle", "Plan one cycle and write nothing", app.action_dry_run),
        (
            "Toggle dark/light theme",
            "Switch between the dark and light themes",
            app.action_toggle_theme,
        ),
        ("Help: keys", "List every key", app.action_help),
    ]
    migration = [
        ("discover", "Migration: discover", "Read-only inventory of every enabled calendar"),
        ("plan", "Migration: plan (dry-run)", "Compute the backfill plan, write nothing"),
        ("approve", "Migration: approve plan and backfill", "Run the reviewed plan"),
        ("reject", "Migration: reject plan", "Discard the plan under review"),
        ("pause", "Migration: pause/resume", "Pause or resume the running backfill"),
        ("cutover", "Migration: cutover", "UUID mode everywhere, legacy titles rewritten"),
        ("rollback(1)", "Rollback level 1", "Engine back to legacy mode (no Google writes)"),
        ("rollback(2)", "Rollback level 2", "Undo the migration's Google writes"),
        ("rollback(3)", "Rollback level 3", "Backup, then drop local correlation state"),
    ]
    cmds += [
        (name, help_, partial(app.run_migration_action, action))
        for action, name, help_ in migration
    ]
    return cmds


class ConsoleCommands(Provider):
    """Exposes `console_commands` to Textual's command palette."""

    def _app(self) -> PaletteHost:
        return cast(PaletteHost, self.app)

    async def discover(self) -> Hits:
        for name, help_, callback in console_commands(self._app()):
            yield DiscoveryHit(name, callback, help=help_)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_, callback in console_commands(self._app()):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_)
