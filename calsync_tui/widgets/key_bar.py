"""The key bar: one line of the keys that work here, from the active bindings.

Textual's `Footer` gives every key an equal grid column, so at 80 or 120 columns long
labels were cut mid-word (`s Sy▏`, `paletteQ`). This bar lays the keys out at their
own width and, when they do not all fit, drops whole items from the end: the screen's
own keys come first, `? Help` (which lists every key) and `q Quit` always stay.
Bindings that share an action show once; a `Binding.Group` shows as `1/2/3 Rollback`.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

PINNED = ("help", "quit")  # actions kept at the right end whatever the width
SEP = "  "


@dataclass(frozen=True)
class KeyItem:
    keys: str
    label: str
    action: str

    @property
    def width(self) -> int:
        return len(self.keys) + 1 + len(self.label)


def key_items(screen: Screen[object], app: App[object]) -> list[KeyItem]:
    """The shown keys of the active bindings, innermost (focused widget, screen) first."""
    by_action: dict[str, list[Binding]] = {}
    for active in screen.active_bindings.values():
        b = active.binding
        if not b.show or not b.description:
            continue
        by_action.setdefault(b.action, []).append(b)
    items: list[KeyItem] = []
    seen_groups: set[str] = set()
    order = list(by_action.items())
    for action, binds in order:
        first = binds[0]
        if first.group is not None:
            if first.group.description in seen_groups:
                continue
            seen_groups.add(first.group.description)
            members = [bs[0] for _, bs in order if bs[0].group == first.group]
            keys = "/".join(app.get_key_display(m) for m in members)
            items.append(KeyItem(keys, first.group.description, action))
            continue
        displays = list(dict.fromkeys(app.get_key_display(b) for b in binds))
        items.append(KeyItem("/".join(displays), first.description, action))
    return items


def fit(items: list[KeyItem], width: int) -> list[KeyItem]:
    """The items that fit `width`, in order, pinned ones always (at the end)."""
    pinned = [i for i in items if i.action.rsplit(".", 1)[-1] in PINNED]
    rest = [i for i in items if i not in pinned]
    used = sum(i.width for i in pinned) + len(SEP) * max(0, len(pinned) - 1)
    kept: list[KeyItem] = []
    for item in rest:
        extra = item.width + len(SEP)
        if used + extra > width:
            break
        kept.append(item)
        used += extra
    return kept + pinned


class KeyBar(Static):
    """Shown at the bottom of every console screen, in place of Textual's `Footer`."""

    DEFAULT_CSS = """
    KeyBar {
        height: 1;
        padding: 0 1;
        background: $footer-background;
        color: $footer-description-foreground;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    def render(self) -> Content:
        width = max(0, self.size.width)
        shown = fit(key_items(self.screen, self.app), width)
        parts = [
            Content.from_markup("[b $footer-key-foreground]$k[/] $d", k=i.keys, d=i.label)
            for i in shown
        ]
        return Content(SEP).join(parts)
