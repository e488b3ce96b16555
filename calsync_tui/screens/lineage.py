"""Lineage: source → the busy block on each target, with ids, status and journal history."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from sqlmodel import Session
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from calsync_tui.errors import CalsyncError
from calsync_tui.screens.base import ConsoleScreen
from calsync_tui.service.lineage import EventNode, Lineage, UnknownEvent, lineage
from calsync_tui.widgets.tone import tone


def _label(node: EventNode, role: str, dark: bool = True) -> str:
    e = node
    status = f"[{tone('red', dark)}]{e.status}[/]" if e.status == "failed" else e.status
    stamp = (
        f"[{tone('green', dark)}]stamped[/]"
        if e.stamped
        else f"[{tone('yellow', dark)}]unstamped[/]"
    )
    return (
        f"[b]{role}[/b] {node.calendar_name}: {e.summary or '(no title)'}  "
        f"[dim]{e.event_class}[/] {status} {stamp}"
    )


def _fill(tree_node: TreeNode[None], node: EventNode) -> None:
    e = node
    tree_node.add_leaf(f"google id      {e.google_event_id}")
    tree_node.add_leaf(f"correlation id {e.correlation_id}")
    tree_node.add_leaf(f"time           {e.start} → {e.end}")
    if e.error:
        tree_node.add_leaf(f"[red]error          {e.error}[/]")
    hist = tree_node.add(f"journal ({len(node.journal)})", expand=True)
    for j in node.journal:
        when = j.created_at.strftime("%Y-%m-%d %H:%M")
        hist.add_leaf(
            f"{when} {j.origin}/{j.op} {j.status} [dim]{j.reason} plan {j.plan_id[:8]}[/]"
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
            tree.root.set_label(f"no event {self.ident}")
            if isinstance(view, UnknownEvent):
                title.update(f"Nothing known as [b]{self.ident}[/b]")
            else:
                title.update(escape(str(view)))
            super().refresh_data()
            return
        if view.source is None:
            why = view.note or "source gone"
            tree.root.set_label(f"[{self.capp.tone('red')}]no source[/]: {why}")
        else:
            tree.root.set_label(_label(view.source, "source", dark))
            _fill(tree.root, view.source)
        targets = tree.root.add(f"busy blocks ({len(view.blocks)})", expand=True)
        for b in view.blocks:
            _fill(targets.add(_label(b, "block", dark), expand=True), b)
        tree.root.expand()
        title.update(
            f"Lineage of [b]{self.ident}[/b]: {len(view.blocks)} block(s)  [dim]esc: back[/]"
        )
        tree.focus()
        super().refresh_data()

    def action_back(self) -> None:
        self.dismiss()
