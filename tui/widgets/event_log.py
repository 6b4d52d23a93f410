"""A virtualised timeline: a ScrollView drawn with the Line API over paged rows.

Why not a DataTable: a DataTable holds every row (Textual #1892: it struggles near a million
cells). This widget only knows a row count; `render_line` draws the visible lines from an LRU of
pages and asks its screen (via `PageWanted`) for pages it lacks, so memory and paint time do not
grow with the ledger (Toolong's `ScrollView` + line cache technique).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ledger.terminal import printable
from tui.data import PAGE
from tui.rows import Row, short_time

__all__ = ["EventLog"]

MAX_PAGES = 64
_BADGE = {
    "fail": "bold white on red",
    "rejected": "bold white on red",
    "error": "bold white on red",
    "pass": "bold black on green",
    "approved": "bold black on green",
    "warn": "black on yellow",
    "pending?": "black on yellow",
    "write": "bold black on dark_orange",
    "read": "dim",
    "undo": "bold white on blue",
    "human": "bold white on magenta",
    "✗": "bold white on red",  # a rule `ledger check` fails cites this event
    "?": "black on yellow",  # a rule it cannot decide cites this event
}


def _badge_key(text: str) -> str:
    """The badge style key of a verdict/effect cell (rule badges by their first mark)."""
    word = text.strip()
    return word[:1] if word[:1] in ("✗", "?") and word.endswith("rule") else word


class EventLog(ScrollView, can_focus=True):
    """Timeline rows: event time, record time, actor, type, tool/resource, summary, badges."""

    DEFAULT_CSS = """
    EventLog { height: 1fr; background: $surface; }
    EventLog > .eventlog--cursor { background: $accent 40%; text-style: bold; }
    EventLog > .eventlog--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"eventlog--cursor", "eventlog--dim"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="timeline.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="timeline.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="timeline.pageup"),
        Binding("pagedown,space", "page(1)", "Page down", show=False, id="timeline.pagedown"),
        Binding("home", "jump_start", "Start", show=False, id="timeline.home"),
        Binding("end,G", "jump_end", "End", id="timeline.end", tooltip="Jump to the last event"),
    ]

    cursor = reactive(0, repaint=True)

    @dataclass
    class PageWanted(Message):
        """The widget needs page `page` (rows page*PAGE .. page*PAGE+PAGE-1)."""

        log: EventLog
        page: int

    @dataclass
    class Highlighted(Message):
        """The cursor moved to `index` (row is None until its page is loaded)."""

        log: EventLog
        index: int
        row: Row | None

    def __init__(self, *, mask_record_time: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self._count = 0
        self._pages: OrderedDict[int, list[Row]] = OrderedDict()
        self._wanted: set[int] = set()
        self.mask_record_time = mask_record_time
        self._findings: dict[str, tuple[tuple[str, str], ...]] = {}

    def set_findings(self, cited: Mapping[str, Sequence[tuple[str, str]]]) -> None:
        """Rule verdicts per event id they cite as evidence ((outcome, rule id), fail or unknown:
        what `ledger check` reports): drawn as a badge in the verdict column and the rule ids
        ahead of the summary."""
        self._findings = {k: tuple(v) for k, v in cited.items()}
        self.refresh()

    def findings(self, event_id: str) -> tuple[tuple[str, str], ...]:
        """The (outcome, rule id) citing one event (for the inspector and tests)."""
        return self._findings.get(event_id, ())

    # ------------------------------------------------------------------ data
    @property
    def count(self) -> int:
        """Number of rows."""
        return self._count

    def reset(self, count: int) -> None:
        """New source: forget pages, set the row count, cursor to the top."""
        self._pages.clear()
        self._wanted.clear()
        self._count = count
        self.virtual_size = Size(self.size.width, count)
        self.cursor = 0
        self.scroll_to(0, 0, animate=False)
        self.refresh()

    def grow(self, count: int) -> None:
        """Rows were appended (live tail): keep pages, drop the last partial one."""
        if count <= self._count:
            return
        self._pages.pop(self._count // PAGE, None)
        self._wanted.discard(self._count // PAGE)
        follow = self.cursor >= self._count - 1
        self._count = count
        self.virtual_size = Size(self.size.width, count)
        if follow:
            self.action_jump_end()
        self.refresh()

    def add_page(self, page: int, rows: list[Row]) -> None:
        """A page arrived from a worker."""
        self._wanted.discard(page)
        self._pages[page] = rows
        self._pages.move_to_end(page)
        while len(self._pages) > MAX_PAGES:
            self._pages.popitem(last=False)
        self.refresh()
        if self.cursor // PAGE == page:
            self.post_message(self.Highlighted(self, self.cursor, self.row(self.cursor)))

    def row(self, index: int) -> Row | None:
        """The row at `index` if its page is loaded."""
        rows = self._pages.get(index // PAGE)
        if rows is None or index % PAGE >= len(rows):
            return None
        return rows[index % PAGE]

    def loaded_pages(self) -> int:
        """How many pages are cached (for tests and the benchmark)."""
        return len(self._pages)

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, value: int) -> None:
        top, height = int(self.scroll_offset.y), max(self.scrollable_content_region.height, 1)
        if value < top:
            self.scroll_to(y=value, animate=False)
        elif value >= top + height:
            self.scroll_to(y=value - height + 1, animate=False)
        self.post_message(self.Highlighted(self, value, self.row(value)))

    def move_to(self, index: int) -> None:
        """Put the cursor on `index` (clamped)."""
        self.cursor = max(0, min(index, self._count - 1))

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        self.move_to(self.cursor + direction * max(self.scrollable_content_region.height - 1, 1))

    def action_jump_start(self) -> None:
        self.move_to(0)

    def action_jump_end(self) -> None:
        self.move_to(self._count - 1)

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", None)
        if isinstance(y, int):
            self.move_to(int(self.scroll_offset.y) + y)

    # ------------------------------------------------------------------ drawing
    def _columns(self, width: int) -> list[tuple[str, int]]:
        if width >= 150:
            return [
                ("seq", 8),
                ("event", 23),
                ("record", 23),
                ("actor", 22),
                ("type", 19),
                ("tool", 22),
                ("verdict", 9),
                ("effect", 6),
                ("summary", 0),
            ]
        if width >= 100:
            return [
                ("seq", 7),
                ("event", 23),
                ("actor", 20),
                ("type", 19),
                ("tool", 16),
                ("verdict", 9),
                ("effect", 6),
                ("summary", 0),
            ]
        return [("seq", 6), ("time", 12), ("type", 18), ("verdict", 8), ("summary", 0)]

    def header(self, width: int) -> str:
        """Column titles matching the current width."""
        return " ".join(
            name.upper().ljust(w) if w else name.upper() for name, w in self._columns(width)
        )

    def _cell(self, row: Row, name: str) -> str:
        """One cell's text, terminal controls escaped (rows keep the recorded text for pivots)."""
        return printable(self._raw_cell(row, name))

    def _raw_cell(self, row: Row, name: str) -> str:
        found = self._findings.get(row.event_id)
        if found and name == "verdict":
            fails = sum(1 for outcome, _ in found if outcome == "fail")
            return f"✗{fails} rule" if fails else f"?{len(found)} rule"
        if found and name == "summary":
            mark = "✗" if any(o == "fail" for o, _ in found) else "?"
            return f"{mark} {', '.join(rule for _, rule in found)} · {row.summary}"
        if name == "seq":
            return str(row.seq)
        if name == "event":
            return short_time(row.occurred_at)
        if name == "time":
            return row.occurred_at[11:23]
        if name == "record":
            return "—" if self.mask_record_time else short_time(row.recorded_at)
        if name == "tool":
            return row.tool or row.resource
        return str(getattr(row, name))

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self.scrollable_content_region.width
        if index >= self._count:
            return Strip.blank(width)
        row = self.row(index)
        if row is None:
            page = index // PAGE
            if page not in self._wanted:
                self._wanted.add(page)
                self.post_message(self.PageWanted(self, page))
            dim = self.get_component_rich_style("eventlog--dim")
            return Strip([Segment(f"{index:>6} …loading".ljust(width)[:width], dim)])
        base = (
            self.get_component_rich_style("eventlog--cursor") if index == self.cursor else Style()
        )
        segments: list[Segment] = []
        used = 0
        for name, w in self._columns(width):
            text = self._cell(row, name)
            cell_w = w if w else max(width - used, 0)
            text = text[:cell_w].ljust(cell_w)
            style = base
            badge = _BADGE.get(_badge_key(text)) if name in ("verdict", "effect") else None
            if badge:
                style = base + Style.parse(badge)
            segments.append(Segment(text, style))
            used += cell_w
            if w and used < width:
                segments.append(Segment(" ", base))
                used += 1
        return Strip(segments).crop(0, width).extend_cell_length(width, base)
