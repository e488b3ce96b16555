"""Quitting while a migration task writes to Google: ask, then do exactly what was chosen.

"Quit" used to leave a blank terminal until the backfill finished. Now `q` asks: stop
after this batch (the plan stays paused and resumable), keep running in the background
(the task already runs in its own process, `service.migrateproc`: the console exits at
once and that process finishes the plan, holding the home's writer lock until it ends),
or cancel. Whatever it does, the console says so as it exits.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

QuitChoice = Literal["stop", "background", "cancel"]


class QuitScreen(ModalScreen[QuitChoice]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "choose('stop')", "Stop after this batch", id="quit.stop"),
        Binding("b", "choose('background')", "Keep running", id="quit.background"),
        Binding("c,escape,n", "choose('cancel')", "Cancel", id="quit.cancel"),
    ]

    def __init__(self, task: str, progress: str, *, background_reason: str | None) -> None:
        super().__init__()
        self.task_name = task
        self.progress = progress
        self.background_reason = background_reason  # why "keep running" is not offered

    def compose(self) -> ComposeResult:
        lines = [
            f"The {self.task_name} is writing to Google ({self.progress}).",
            "",
            "s  stop after this batch: everything written so far stays journaled;",
            "   space in the migration screen (or `calsync-tui migrate resume`) continues.",
        ]
        if self.background_reason is None:
            lines += [
                "b  keep running in the background: the console closes now and the",
                f"   {self.task_name}'s own process finishes it, holding this home until it",
                "   ends (no other console or CLI writes meanwhile); `calsync-tui migrate",
                "   status` shows its progress, `calsync-tui migrate pause` stops it.",
            ]
        else:
            lines += [f"b  not available: {self.background_reason}"]
        lines += ["c  cancel: back to the console, the task keeps running."]
        with Vertical(id="quit-dialog"):
            yield Label(f"Quit while the {self.task_name} runs?", id="quit-title", markup=False)
            yield Static("\n".join(lines), id="quit-text", markup=False)
            with Horizontal(id="quit-buttons"):
                yield Button("Stop after this batch (s)", variant="warning", id="quit-stop")
                if self.background_reason is None:
                    yield Button("Keep running (b)", variant="default", id="quit-background")
                yield Button("Cancel (c)", variant="primary", id="quit-cancel")

    def on_mount(self) -> None:
        self.query_one("#quit-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        choice = (event.button.id or "quit-cancel").removeprefix("quit-")
        self.action_choose(choice)

    def action_choose(self, choice: str) -> None:
        if choice == "background" and self.background_reason is not None:
            self.notify(f"cannot keep it running: {self.background_reason}", severity="warning")
            return
        if choice in ("stop", "background", "cancel"):
            self.dismiss(choice)  # type: ignore[arg-type]
