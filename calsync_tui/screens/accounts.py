"""Accounts: who is signed in, who needs to sign in again; sign in/out in a worker."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from calsync_tui.errors import CalsyncError
from calsync_tui.messages import DataChanged
from calsync_tui.screens.base import ConsoleScreen, ago, plain
from calsync_tui.screens.confirm import ConfirmScreen
from calsync_tui.service import readmodel as rm
from local_store import queries

# What the store says for an account whose token was deleted on purpose.
SIGNED_OUT = ("signed out", "no stored credentials")


class AccountsScreen(ConsoleScreen):
    TITLE_TEXT = "Accounts"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "i",
            "sign_in",
            "Sign in",
            id="accounts.signin",
            tooltip="Open the browser to sign in with Google",
        ),
        Binding(
            "o",
            "sign_out",
            "Sign out",
            id="accounts.signout",
            tooltip="Sign out the selected account (asks first; its calendars pause)",
        ),
    ]

    def body(self) -> ComposeResult:
        yield Static("", id="accounts-title")
        table: DataTable[str | Text] = DataTable(id="accounts", cursor_type="row")
        table.border_title = "Accounts"
        yield table
        cals: DataTable[str | Text] = DataTable(
            id="account-calendars", cursor_type="none", zebra_stripes=True
        )
        cals.border_title = "Calendars of the selected account"
        yield cals

    def on_mount(self) -> None:
        t: DataTable[str | Text] = self.query_one("#accounts", DataTable)
        t.add_columns("account", "kind", "state", "calendars", "enabled")
        c: DataTable[str | Text] = self.query_one("#account-calendars", DataTable)
        c.add_columns("calendar", "role", "enabled", "mode", "events", "last sync", "state")
        super().on_mount()
        t.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "accounts":
            self._fill_calendars()

    def _fill_calendars(self) -> None:
        """The selected account's calendars: what it lets the console read and write."""
        email = self._selected()
        rows: list[rm.CalendarRow] = self.read(rm.calendar_rows, [])
        c: DataTable[str | Text] = self.query_one("#account-calendars", DataTable)
        t = self.capp.tone
        now = self.now()
        with self.app.batch_update():
            c.clear()
            for r in (r for r in rows if r.account == email):
                state = {
                    "ok": plain("ok", t("green")),
                    "attention": plain("check", t("yellow")),
                    "error": plain(r.last_error or "error", t("red")),
                    "off": plain("not mirrored", "dim"),
                }[r.health]
                c.add_row(
                    plain(r.summary),
                    r.access_role,
                    "yes" if r.enabled else "no",
                    r.engine_mode,
                    f"{r.total:,}",
                    ago(r.last_synced_at, now),
                    state,
                )

    def refresh_data(self) -> None:
        rows: list[queries.AccountSummary] = self.read(queries.account_summaries, [])
        now = self.now()
        locked: list[rm.PausedAccount] = self.read(lambda s: rm.paused_accounts(s, now), [])
        paused = {p.account: p for p in locked}
        t: DataTable[str | Text] = self.query_one("#accounts", DataTable)
        keep = t.cursor_row
        with self.app.batch_update():
            t.clear()
            for a in rows:
                state = (
                    plain("signed out · calendars paused", self.capp.tone("yellow"))
                    if a.needs_signin and a.signin_error in SIGNED_OUT
                    else Text.assemble(
                        ("needs sign-in", self.capp.tone("red")), f" {a.signin_error or ''}"
                    )
                    if a.needs_signin
                    else plain("signed in", self.capp.tone("green"))
                )
                if a.email in paused:  # Google's usage limit (writes.lockout)
                    p = paused[a.email]
                    state = Text.assemble(
                        state,
                        (
                            f" · writes paused until {p.at} (Google's usage limit)"
                            if p.active
                            else " · writes wait for a probe (Google's usage limit)",
                            self.capp.tone("yellow"),
                        ),
                    )
                t.add_row(
                    plain(a.email),
                    plain(a.auth_kind),
                    state,
                    str(a.calendars),
                    str(a.enabled_calendars),
                    key=a.email,
                )
        if rows and 0 <= keep < len(rows):
            t.move_cursor(row=keep)
        self._fill_calendars()
        need = sum(1 for a in rows if a.needs_signin)
        self.query_one("#accounts-title", Static).update(
            f"{len(rows)} account(s)"
            + (f", [red]{need} need(s) sign-in[/] — press i" if need else "")
            + ("" if rows else " — press i to sign in with Google")
        )
        super().refresh_data()

    def _selected(self) -> str | None:
        t: DataTable[str | Text] = self.query_one("#accounts", DataTable)
        if t.row_count == 0:
            return None
        return t.coordinate_to_cell_key(t.cursor_coordinate).row_key.value

    def action_sign_in(self) -> None:
        email = self._selected()
        if email is not None and email in self.capp.backend.static_tokens:
            self.notify(f"signing {email} back in…")
        else:
            email = None
            self.notify("opening the browser for Google sign-in…")
        self._sign_in(email)

    @work(thread=True, group="accounts", exclusive=True)
    def _sign_in(self, email: str | None) -> None:
        try:
            email = self.capp.backend.sign_in(None, email)
        except CalsyncError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(
            self.notify, f"signed in as {email}: its calendars sync again from the next cycle"
        )
        self.app.call_from_thread(self.capp.post_message, DataChanged())

    def action_sign_out(self) -> None:
        email = self._selected()
        if email is None:
            self.notify("no account to sign out: i signs one in")
            return
        rows: list[queries.AccountSummary] = self.read(queries.account_summaries, [])
        account = next((a for a in rows if a.email == email), None)
        if account is not None and account.needs_signin:
            self.notify(f"{email} is already signed out: i signs it in")
            return
        every: list[rm.CalendarRow] = self.read(rm.calendar_rows, [])
        cals = [c for c in every if c.account == email and c.enabled]
        lines = [
            f"{email}'s token is deleted from this computer.",
            "From now on the console reads and writes none of its calendars:",
            *(f"  {c.summary}  ({c.google_id})" for c in cals),
            *([] if cals else ["  (it has no enabled calendars)"]),
            "They are shown as paused; their events and busy blocks stay as they are.",
            "Sign in again (i) to resume them.",
        ]

        def done(yes: bool | None) -> None:
            if yes:
                self._sign_out(email)

        self.app.push_screen(
            ConfirmScreen(f"Sign out {email}?", lines, confirm_label="Sign out"), done
        )

    @work(thread=True, group="accounts", exclusive=True)
    def _sign_out(self, email: str) -> None:
        try:
            self.capp.backend.sign_out(email)
        except CalsyncError as exc:
            self.app.call_from_thread(self.notify, str(exc), severity="error")
            return
        self.app.call_from_thread(
            self.notify, f"signed out {email}: its calendars are paused (i signs back in)"
        )
        self.app.call_from_thread(self.capp.post_message, DataChanged())
