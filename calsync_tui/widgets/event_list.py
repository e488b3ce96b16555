"""A virtual, store-backed event list: the Line API over pages read on demand.

Following Toolong, the widget never holds the whole calendar: its virtual height is the
row count, `render_line(y)` asks a page cache for row `scroll_y + y`, and a small LRU
of pages (`PAGE` rows each) keeps scrolling smooth. 50,000 rows cost one COUNT and a
page query per screenful. Drawing never reads the store: a page that is not cached yet
is drawn as a dim placeholder while a thread worker reads it, then the list redraws.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from calsync_tui.service.labels import class_name
from calsync_tui.service.readmodel import EventRow
from calsync_tui.widgets.tone import tone

PAGE = 200
MAX_PAGES = 16

PageLoader = Callable[[int, int], list[EventRow]]

COLUMNS: tuple[tuple[str, int], ...] = (
    ("start", 17),
    ("class", 18),
    ("status", 9),
    ("stamp", 5),
)
ID_WIDTH = 26  # the Google event id, last and dimmed: shown when the title still has room
MIN_TITLE = 40


def shows_id(width: int) -> bool:
    """Whether a row of `width` cells has room for the Google id after a readable title."""
    fixed = 1 + sum(w + 1 for _, w in COLUMNS)
    return width - fixed - ID_WIDTH - 1 >= MIN_TITLE


CLASS_STYLE = {
    "tracked_user_event": "green",
    "new_user_event": "cyan",
    "busy_block": "blue",
    "legacy_busy_block": "yellow",
    "external_calsync": "magenta",
    "orphaned_block": "red",
    "ignored": "bright_black",
    "error": "bold red",
}


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return text
    return text[: width - 1] + "…" if len(text) > width else text.ljust(width)


class PageRead(Message):
    """A page the drawing asked for, read in a worker."""

    def __init__(self, generation: int, page_no: int, rows: list[EventRow]) -> None:
        super().__init__()
        self.generation = generation
        self.page_no = page_no
        self.rows = rows


class EventList(ScrollView, can_focus=True):
    """Rows of one calendar's events; Enter posts `EventList.Selected`."""

    HELP_TITLE = "Event list"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding(
            "enter",
            "select",
            "Lineage",
            id="events.lineage",
            tooltip="Show source → blocks of this event",
        ),
    ]

    cursor = reactive(0)

    class Selected(Message):
        def __init__(self, row: EventRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._count = 0
        self._loader: PageLoader | None = None
        self._pages: OrderedDict[int, list[EventRow]] = OrderedDict()
        self._fetching: set[int] = set()  # pages a worker is reading for the drawing
        self._generation = 0  # bumped by load(): a page read for an older set is dropped
        self.page_reads = 0

    # --- data ---------------------------------------------------------------------------

    def load(
        self,
        count: int,
        loader: PageLoader,
        *,
        pages: dict[int, list[EventRow]] | None = None,
        cursor: int = 0,
    ) -> None:
        """Point the list at a new result set (a new calendar or filter, or the same one
        re-read); `pages` already read (in the screen's worker) are cached as they are,
        and the cursor stays at `cursor` when it is a row of the new set."""
        self._count = count
        self._loader = loader
        self._generation += 1
        self._pages.clear()
        self._fetching.clear()
        for page_no, rows in sorted((pages or {}).items()):
            self._pages[page_no] = rows
        self.virtual_size = Size(self.size.width, count)
        keep = cursor if 0 <= cursor < count else 0
        if keep != self.cursor:
            self.cursor = keep
        if not keep:
            self.scroll_to(0, 0, animate=False)
        self.refresh()

    @property
    def row_count(self) -> int:
        return self._count

    def row(self, index: int) -> EventRow | None:
        """Row `index`, read now if its page is not cached (for Enter and tests)."""
        if not 0 <= index < self._count or self._loader is None:
            return None
        page_no = index // PAGE
        page = self._pages.get(page_no)
        if page is None:
            page = self._loader(page_no * PAGE, PAGE)
            self.page_reads += 1
            self._keep(page_no, page)
        else:
            self._pages.move_to_end(page_no)
        offset = index - page_no * PAGE
        return page[offset] if offset < len(page) else None

    def _keep(self, page_no: int, page: list[EventRow]) -> None:
        self._pages[page_no] = page
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)

    def _cached_row(self, index: int) -> EventRow | bool | None:
        """Row `index` from the cache; False (and a read started) when its page is not
        cached yet. Drawing uses this: it never waits for the store."""
        if not 0 <= index < self._count or self._loader is None:
            return None
        page_no = index // PAGE
        page = self._pages.get(page_no)
        if page is None:
            self._fetch(page_no)
            return False
        offset = index - page_no * PAGE
        return page[offset] if offset < len(page) else None

    def _fetch(self, page_no: int) -> None:
        if page_no in self._fetching or self._loader is None:
            return
        self._fetching.add(page_no)
        loader, generation = self._loader, self._generation

        def read() -> None:
            self.post_message(PageRead(generation, page_no, loader(page_no * PAGE, PAGE)))

        self.run_worker(read, group="event-list-pages", thread=True, exit_on_error=False)

    def on_page_read(self, msg: PageRead) -> None:
        msg.stop()
        self._fetching.discard(msg.page_no)
        if msg.generation != self._generation:
            return  # read for a result set the list no longer shows
        self.page_reads += 1
        self._keep(msg.page_no, msg.rows)
        self.refresh()

    @property
    def current(self) -> EventRow | None:
        return self.row(self.cursor)

    # --- rendering ---------------------------------------------------------------------

    @staticmethod
    def header_text(width: int = 120) -> str:
        """Column titles for a list `width` cells wide, for a fixed header above the rows."""
        head = " " + " ".join(_fit(name.upper(), w) for name, w in COLUMNS) + " "
        if not shows_id(width):
            return head + "TITLE"
        title_w = width - len(head) - ID_WIDTH - 1
        return head + _fit("TITLE", title_w) + " " + "GOOGLE ID"

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = int(self.scroll_offset.y) + y
        row = self._cached_row(index)
        base = self.rich_style
        if row is False:  # its page is being read: a placeholder, redrawn when it arrives
            return Strip([Segment(_fit(" …", width), base + Style(dim=True))]).extend_cell_length(
                width, base
            )
        if not isinstance(row, EventRow):
            return Strip.blank(width, base)
        if index == self.cursor:
            base = base + self.get_component_rich_style(
                "event-list--cursor" if self.has_focus else "event-list--cursor-blur"
            )
        start = row.start.replace("T", " ")[:16]
        dark = self.app.current_theme.dark
        cells: list[tuple[str, Style]] = [
            (_fit(start, 17), base),
            (
                _fit(class_name(row.event_class), 18),
                base + Style.parse(tone(CLASS_STYLE.get(row.event_class, "none"), dark)),
            ),
            (
                _fit(row.status, 9),
                base + (Style(color=tone("red", dark)) if row.status == "failed" else Style()),
            ),
            (_fit("yes" if row.stamped else "-", 5), base),
        ]
        used = 1 + sum(len(t) + 1 for t, _ in cells)
        title = row.summary or "(no title)"
        segs: list[Segment] = [Segment(" ", base)]
        for text, style in cells:
            segs.append(Segment(text, style))
            segs.append(Segment(" ", base))
        if shows_id(width):
            title_w = width - used - ID_WIDTH - 1
            segs.append(Segment(_fit(title, title_w), base))
            segs.append(Segment(" ", base))
            segs.append(Segment(_fit(row.google_event_id, ID_WIDTH), base + Style(dim=True)))
        else:
            segs.append(Segment(_fit(title, max(1, width - used)), base))
        return Strip(segs).crop(0, width).extend_cell_length(width, base)

    DEFAULT_CSS = """
    EventList { height: 1fr; }
    EventList > .event-list--cursor { background: $accent 60%; }
    EventList > .event-list--cursor-blur { background: $accent 25%; }
    """
    COMPONENT_CLASSES = {"event-list--cursor", "event-list--cursor-blur"}

    # --- keys ---------------------------------------------------------------------------

    def _visible_rows(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def watch_cursor(self, old: int, new: int) -> None:
        top = int(self.scroll_offset.y)
        rows = self._visible_rows()
        if new < top:
            self.scroll_to(y=new, animate=False)
        elif new >= top + rows:
            self.scroll_to(y=new - rows + 1, animate=False)
        self.refresh()

    def action_cursor(self, delta: int) -> None:
        if self._count:
            self.cursor = max(0, min(self._count - 1, self.cursor + delta))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * self._visible_rows())

    def action_jump(self, where: int) -> None:
        if self._count:
            self.cursor = self._count - 1 if where < 0 else 0

    def action_select(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Selected(row))

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
