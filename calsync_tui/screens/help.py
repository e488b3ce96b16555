"""The help modal: every key that works on the screen underneath, generated from its
active bindings (the focused widget's, the screen's and the app's), so it cannot drift
from what the keys do.

One row per action: keys bound to the same action share a row (`+/=`), each rollback
level has its own row, and a key the screen re-binds for the app (`app.switch_mode`)
is listed once, under "Everywhere".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

from calsync_tui.screens.base import fill


@dataclass(frozen=True)
class HelpRow:
    keys: str
    text: str


def _section_name(node: DOMNode, screen: Screen[object]) -> str:
    if isinstance(node, App):
        return "Everywhere"
    if node is screen:
        title = getattr(screen, "TITLE_TEXT", "") or type(screen).__name__
        return f"{title} screen"
    return getattr(node, "HELP_TITLE", "") or type(node).__name__


def _display(app: App[object], key: str, b: Binding) -> str:
    if b.key_display and "," not in b.key:
        return b.key_display
    return app.get_key_display(Binding(key, b.action))


def help_sections(screen: Screen[object]) -> list[tuple[str, list[HelpRow]]]:
    """(section, rows) from `screen.active_bindings`: innermost first, "Everywhere" last.

    An `app.` action bound on a screen is the app's action: listed under "Everywhere".
    """
    app = screen.app
    sections: dict[str, dict[str, tuple[list[str], Binding]]] = {}
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not b.description or b.id is None:  # the console's own keys (Posting: id=)
            continue
        node: DOMNode = active.node
        action = b.action
        if action.startswith("app."):
            node, action = app, action[4:]
        rows = sections.setdefault(_section_name(node, screen), {})
        keys, _ = rows.setdefault(action, ([], b))
        display = _display(app, key, b)
        if display not in keys:
            keys.append(display)
    names = sorted(sections, key=lambda n: n == "Everywhere")
    return [
        (
            name,
            [
                HelpRow("/".join(keys), b.tooltip or b.description)
                for keys, b in sections[name].values()
            ],
        )
        for name in names
    ]


class HelpScreen(ModalScreen[None]):
    """Opened over a console screen; the screen underneath keeps drawing (`is_modal_help`)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, screen: Screen[object]) -> None:
        super().__init__()
        self.sections = help_sections(screen)

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label(
                "Keys  (ctrl+p: command palette · esc: close)", id="help-title", markup=False
            )
            with VerticalScroll(id="help-body"):
                for name, rows in self.sections:
                    yield Label(name, classes="help-section", markup=False)
                    if not rows:
                        yield Static("  (none)", classes="help-keys", markup=False)
                    for r in rows:  # key column, then the text wrapped under itself
                        with Horizontal(classes="help-row"):
                            yield Static(r.keys, classes="help-key", markup=False)
                            yield Static(fill("$t", t=r.text), classes="help-text")
