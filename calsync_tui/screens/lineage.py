"""Lineage: source → the busy block on each target, with ids, status and journal history."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static, Tree
from textual.widgets.tree import TreeNode

from calsync_tui.screens import readmodel as rm
from calsync_tui.screens.base import ConsoleScreen, fill, plain, tone


def _label(node: rm.LineageNode, role: str, dark: bool = True) -> Text:
    e = node.event
    status = plain(e.status, tone("red", dark) if e.status == "failed" else "")
    stamp = (
        plain("stamped", tone("green", dark))
        if e.stamped
        else plain("unstamped", tone("yellow", dark))
    )
    return Text.assemble(
        (role, "bold"),
        f" {node.calendar}: {e.summary or '(no title)'}  ",
        (e.event_class, "dim"),
        " ",
        status,
        " ",
        stamp,
    )


def _fill(tree_node: TreeNode[None], node: rm.LineageNode) -> None:
    e = node.event
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

    def refresh_data(self) -> None:
        view = self.read(lambda s: rm.lineage(s, self.ident), rm.LineageView(None, [], self.ident))
        tree: Tree[None] = self.query_one(Tree)
        tree.clear()
        dark = self.app.current_theme.dark
        title = self.query_one("#lineage-title", Static)
        if view.source is None and not view.blocks:
            tree.root.set_label(plain(f"no event {self.ident}"))
            title.update(fill("Nothing known as [b]$ident[/b]", ident=self.ident))
            super().refresh_data()
            return
        if view.source is None:
            tree.root.set_label(f"[{self.capp.tone('red')}]source gone[/] (orphaned block)")
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
