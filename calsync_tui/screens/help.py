"""The help modal: every key of the app and of the screen underneath, from the bindings."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static


def _rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for b in bindings:
        if isinstance(b, Binding) and b.description:
            key = b.key_display or b.key.split(",")[0]
            out.append((key, b.tooltip or b.description))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, app_bindings: list[BindingType], screen: Screen[object]) -> None:
        super().__init__()
        self.sections = [
            ("Everywhere", _rows(app_bindings)),
            (screen.__class__.__name__.replace("Screen", ""), _rows(list(screen.BINDINGS))),
        ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label("Keys  (ctrl+p: command palette · esc: close)", id="help-title")
            with VerticalScroll():
                for name, rows in self.sections:
                    yield Label(name, classes="help-section")
                    text = "\n".join(f"  {key:<10} {desc}" for key, desc in rows) or "  (none)"
                    yield Static(text, classes="help-keys")
