"""A modal that states exactly what an action will do and asks yes/no.

Destructive actions (backfill, cutover, rollback) go through it; the text comes from
the dry-run, so what the user approves is what runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from calsync_tui.service.plans import PlanLine
from calsync_tui.widgets.plan_table import PlanTable


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only on an explicit yes (key `y` or the button)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes, do it", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(
        self,
        title: str,
        lines: list[str],
        *,
        confirm_label: str = "Yes, do it",
        refusal: str | None = None,
        writes: Sequence[PlanLine] = (),
    ) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines
        self.confirm_label = confirm_label
        # When the core would refuse (a gate not passed), the dialog says why and offers
        # no yes: it never invites an answer that will be turned down.
        self.refusal = refusal
        # The writes the action makes, each as a person reads it (rollback level 2).
        self.writes = list(writes)

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog") as dialog:
            if self.writes:
                # A list of writes: the dialog takes most of the screen (any size, 80x24
                # included), the text scrolls in a few lines, the table gets the rest.
                dialog.styles.height = "90%"
                dialog.styles.max_height = "90%"
                dialog.styles.max_width = "100%"
            yield Label(self.title_text, id="confirm-title", markup=False)
            with VerticalScroll(id="confirm-body") as body:
                if self.writes:
                    body.styles.max_height = 5
                # Lines carry calendar names and titles from Google: shown as is, never as markup.
                yield Static(
                    "\n".join(self.lines) or "(nothing to do)", id="confirm-text", markup=False
                )
            if self.writes:
                table = PlanTable(with_calendar=True, id="confirm-writes")
                table.border_title = f"{len(self.writes):,} write(s)"
                table.styles.height = "1fr"
                table.styles.min_height = 3
                table.show(self.writes)
                yield table
            if self.refusal is not None:
                yield Label(f"Not possible now: {self.refusal}", id="confirm-refusal", markup=False)
            with Horizontal(id="confirm-buttons"):
                if self.refusal is None:
                    yield Button(f"{self.confirm_label} (y)", variant="error", id="confirm-yes")
                yield Button(
                    "Cancel (n)" if self.refusal is None else "Close (n)",
                    variant="primary",
                    id="confirm-no",
                )

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")

    def action_answer(self, yes: bool) -> None:
        if yes and self.refusal is not None:
            self.notify(f"not possible now: {self.refusal}", severity="warning")
            return
        self.dismiss(yes)
