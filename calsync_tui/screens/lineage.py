"""Lineage: source → the busy block on each target, with ids, status and journal history."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from sqlmodel import Session
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from calsync_tui.errors import CalsyncError
from calsync_tui.screens.base import ConsoleScreen, fill, plain
from calsync_tui.service.labels import class_name
from calsync_tui.service.lineage import EventNode, Lineage, UnknownEvent, lineage
from calsync_tui.widgets.tone import tone


def _label(node: EventNode, role: str, dark: bool = True) -> Text:
    e = node
    status = plain(e.status, tone("red", dark) if e.status == "failed" else "")
    stamp = (
        plain("stamped", tone("green", dark))
        if e.stamped
        else plain("unstamped", tone("yellow", dark))
    )
    return Text.assemble(
        (role, "bold"),
        f" {node.calendar_name}: {e.summary or '(no title)'}  ",
        (class_name(e.event_class), "dim"),
        " ",
        status,
        " ",
        stamp,
    )


def _fill(tree_node: TreeNode[None], node: EventNode) -> None:
    e = node
    tree_node.add_leaf(plain(f"google id      {e.google_event_id}"))
    tree_node.add_leaf(plain(f"correlation id {e.correlation_id}"))
    tree_node.add_leaf(plain(f"time           {e.start} → {e.end}"))
    if e.error:
        tree_node.add_leaf(plain(f"error          {e.error}", "red"))
    hist = tree_node.add(f"journal ({len(node.journal)})", expand=True)
    for j in node.journal:
        when = j.created_at.strftime("%Y-%m-%d %H:%M")
        hist.add_leaf(
            Text.assemble(
                f"{when} {j.origin}/{j.op} {j.status} ",
                (f"{j.reason} plan {j.plan_id[:8]}", "dim"),
            )
        )


class LineageScreen(ConsoleScreen):
    TITLE_TEXT = "Lineage"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,backspace", "back", "Back", id="lineage.back"),
    ]

    def __init__(self, ident: str) -> None:
        super().__init__()
        self.ident = ident

    def body(self) -> ComposeResult:
        yield Static("", id="lineage-title")
        tree: Tree[None] = Tree("lineage", id="lineage-tree")
        tree.border_title = "Source → busy blocks"
        yield tree

    def _lineage(self, session: Session) -> Lineage | CalsyncError:
        try:
            return lineage(session, self.ident)
        except CalsyncError as exc:  # unknown id, or a series master: say why
            return exc

    def refresh_data(self) -> None:
        unknown: Lineage | CalsyncError = UnknownEvent(self.ident)
        view = self.read(self._lineage, unknown)
        tree: Tree[None] = self.query_one(Tree)
        tree.clear()
        dark = self.app.current_theme.dark
        title = self.query_one("#lineage-title", Static)
        if isinstance(view, CalsyncError):
            tree.root.set_label(plain(f"no event {self.ident}"))
            if isinstance(view, UnknownEvent):
                title.update(fill("Nothing known as [b]$ident[/b]", ident=self.ident))
            else:
                title.update(plain(str(view)))
            super().refresh_data()
            return
        if view.source is None:
            why = view.note or "source gone"
            tree.root.set_label(Text.assemble(("no source", self.capp.tone("red")), f": {why}"))
        else:
            tree.root.set_label(_label(view.source, "source", dark))
            _fill(tree.root, view.source)
        targets = tree.root.add(f"busy blocks ({len(view.blocks)})", expand=True)
        for b in view.blocks:
            _fill(targets.add(_label(b, "block", dark), expand=True), b)
        tree.root.expand()
        title.update(
            fill(
                "Lineage of [b]$ident[/b]: $n block(s)  [dim]esc: back[/]",
                ident=self.ident,
                n=len(view.blocks),
            )
        )
        tree.focus()
        super().refresh_data()

    def action_back(self) -> None:
        self.dismiss()
