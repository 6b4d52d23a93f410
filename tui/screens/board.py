"""The board: runs (filterable), open approvals, chain status per log, live as events arrive.

Why it reloads in a worker on every `LedgerAppended`: the message coalesces bursts
(`can_replace`) and the worker is `exclusive`, so a storm of sequencer batches costs one query
round at a time and the UI never blocks.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from ledger.errors import LedgerError
from ledger.store.read import RunSummary
from ledger.terminal import printable
from tui.boardview import COLUMNS, SORTS, BoardLine, board_lines, clip
from tui.data import BoardData, parse_filter
from tui.literal import literal, markup_safe, shown
from tui.messages import BoardLoaded, Notice, VerdictsRechecked
from tui.screens.common import LedgerScreen
from tui.stopview import stop_line
from tui.verdicts import VerdictState, recheck

__all__ = ["BoardScreen"]


class RunsTable(DataTable[Any]):
    """The runs table: its `enter` (select the row: the screen opens the timeline) is shown in
    the footer as `enter Timeline`; DataTable's own hidden binding would hide the screen's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Timeline", tooltip="Timeline of the run"),
    ]


class BoardScreen(LedgerScreen):
    """Runs, open approvals and chain status."""

    WRITE_ACTIONS = frozenset({"export"})
    # Footer order is this order (after the runs table's own `enter Timeline`): at 80 columns
    # the keys the 3 a.m. walk needs (trace/stop/undo, help, refresh, filter, export) fit first.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "tsu", "Trace/Stop/Undo", id="board.tsu"),
        Binding("question_mark", "app.help", "Help", tooltip="Keys of this screen"),
        Binding("r", "reload", "Refresh", id="board.reload", tooltip="Re-read the board"),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="board.filter",
            tooltip="agent:x user:y status:z verdict:fail since:2026-01-01 text",
        ),
        Binding("e", "export", "Export", id="board.export", tooltip="Evidence export"),
        Binding("R", "replay", "Replay", id="board.replay"),
        Binding("escape", "clear_filter", "Clear", show=False, id="board.clear"),
        Binding("enter", "open_run", "Timeline", id="board.open", tooltip="Timeline of the run"),
        Binding("space", "mark", "Mark", id="board.mark", tooltip="Mark runs to merge"),
        Binding(
            "M", "merged", "Merged", id="board.merged", tooltip="Merged timeline of marked runs"
        ),
        Binding(
            "l", "whole_log", "Whole log", id="board.log", tooltip="Every event of the run's log"
        ),
        Binding("o", "sort", "Sort", id="board.sort", tooltip="Failing first / newest first"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[str] = set()
        self.board: BoardData | None = None
        self.filter_text = ""
        self.known: dict[uuid.UUID, VerdictState] = {}  # recomputed this session
        self.rechecking: dict[uuid.UUID, int] = {}  # run -> last seq, in the worker now
        self.sort = SORTS[0]
        self.lines: dict[str, BoardLine] = {}  # row key -> the line shown (its run)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("chain: loading…", id="chain-status")
        yield Static("", id="stops-banner", classes="hidden")
        yield Input(
            placeholder="filter runs: agent:x user:y status:failed verdict:fail since:…",
            id="board-filter",
            classes="hidden",
        )
        yield RunsTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Label("Open approvals", classes="section")
        yield DataTable(id="approvals", cursor_type="row")
        yield Footer(compact=True)  # at 80 columns the walk's keys and export all fit

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        self.query_one("#approvals", DataTable).add_columns(
            "run", "approval", "tool", "roles", "reason"
        )
        runs.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.stale:
            self.stale = False
            self.reload()

    def ledger_appended(self, origin: str, size: int) -> None:
        """Live update from the sequencer."""
        self.reload()

    def reload(self) -> None:
        """Re-query the board in a worker."""
        self.load_board(self.filter_text)

    @work(
        thread=True, exclusive=True, group="board", exit_on_error=False, description="Loading runs"
    )
    def load_board(self, text: str) -> None:
        """Read the board under the filter `text`; answers with BoardLoaded."""
        known = dict(self.known)  # a snapshot: the UI thread updates `known`
        try:
            board = self.lapp.data.board(parse_filter(text), known=known)
        except (LedgerError, psycopg.Error) as exc:  # the last board stays; `r` tries again
            self.post_message(Notice(markup_safe(f"board not refreshed (r retries): {exc}"),
                                     error=True))  # fmt: skip
            return
        self.post_message(BoardLoaded(board))

    @work(thread=True, group="verdicts", exit_on_error=False, description="Rechecking verdicts")
    def recheck_verdicts(self, runs: dict[uuid.UUID, int]) -> None:
        """Recompute verdicts from the log (never the stored rows); answers VerdictsRechecked."""
        lapp = self.lapp
        found: dict[uuid.UUID, VerdictState] = {}
        try:
            found = recheck(lapp.settings, runs, lapp.trust_root, save=not lapp.readonly)
        except (LedgerError, psycopg.Error) as exc:  # the markers stay: nothing shown as clean
            self.post_message(Notice(markup_safe(f"verdict recheck failed: {exc}"), error=True))
        done = VerdictsRechecked({str(k): v for k, v in found.items()}, list(runs))
        self.post_message(done)

    def _start_recheck(self, board: BoardData) -> None:
        """Queue every shown run whose verdict was not recomputed for its current events."""
        todo = {
            br.summary.run_id: br.verdict.last_seq
            for br in board.runs
            if not br.verdict.trusted
            and self.rechecking.get(br.summary.run_id) != br.verdict.last_seq
        }
        if todo:
            self.rechecking.update(todo)
            self.recheck_verdicts(todo)

    @on(VerdictsRechecked)
    def _rechecked(self, message: VerdictsRechecked) -> None:
        for run in message.asked:
            self.rechecking.pop(run, None)
        for rid, state in message.states.items():
            self.known[uuid.UUID(rid)] = state
        if self.board is not None and message.states:
            self._paint_board(self.board)

    @on(BoardLoaded)
    def _show(self, message: BoardLoaded) -> None:
        if self._paint_board(message.board):
            self.board = message.board
            self._start_recheck(message.board)

    def _verdicts(self, board: BoardData) -> list[tuple[RunSummary, VerdictState]]:
        """Each run with its verdict: recomputed this session when still current, else loaded."""
        out = []
        for br in board.runs:
            done = self.known.get(br.summary.run_id)
            fresh = done is not None and done.last_seq == br.verdict.last_seq
            out.append((br.summary, done if fresh and done is not None else br.verdict))
        return out

    def _paint_board(self, board: BoardData) -> bool:
        """Build every line first, then swap them in whole (a failure keeps the last board)."""
        try:
            runs_shown = self._verdicts(board)
            lines = board_lines(
                runs_shown, marked=self.marked, stops=board.stops, sort=self.sort
            )
            approvals = [
                (  # every cell is a writer's text: never parsed as markup
                    (literal(a.run_id[:13]), clip(a.approval_id, 24), clip(a.tool, 32),
                     clip(",".join(a.required_roles), 24), clip(a.reason, 80)),
                    f"{a.origin}\x00{a.seq}",
                )
                for a in board.approvals
            ]  # fmt: skip
            header = self._chain_line(board, runs_shown)
        except Exception as exc:  # the board stays as it was, and says why
            self.notify(printable(f"board not refreshed (r retries): {exc}"), severity="error",
                        markup=False)  # fmt: skip
            return False
        self._swap(lines, approvals)
        self.query_one("#chain-status", Static).update(header)
        self._show_stops(board)
        return True

    def _swap(
        self, lines: list[BoardLine], approvals: Sequence[tuple[Sequence[Text], str]]
    ) -> None:
        """Replace the tables' rows, keeping the cursor on the same run when it is still shown."""
        runs = self.query_one("#runs", DataTable)
        keep = self._cursor_key(runs)
        row = runs.cursor_row
        runs.clear(columns=True)  # widths fit what is shown now, not the widest ever seen
        for i, (key, label, width) in enumerate(COLUMNS):
            # computed here, not left to DataTable's auto width: a clear and re-fill within one
            # refresh (a live update) could leave auto columns at their labels' width
            fit = max([len(label)] + [_cell_len(line.cells[i]) for line in lines])
            runs.add_column(label, width=width or fit, key=key)
        self.lines = {line.key: line for line in lines}
        for line in lines:
            runs.add_row(*line.cells, key=line.key)
        if lines:
            keys = [line.key for line in lines]
            runs.move_cursor(row=keys.index(keep) if keep in keys else min(row, len(keys) - 1))
        table = self.query_one("#approvals", DataTable)
        table.clear()
        for cells, key in approvals:
            table.add_row(*cells, key=key)

    @staticmethod
    def _cursor_key(runs: DataTable[Any]) -> str | None:
        if not runs.row_count:
            return None
        return str(runs.coordinate_to_cell_key(runs.cursor_coordinate).row_key.value)

    def _show_stops(self, board: BoardData) -> None:
        """The stops in force, one line each, above the runs (hidden when there are none)."""
        banner = self.query_one("#stops-banner", Static)
        banner.set_class(not board.stops, "hidden")
        lines = Text("\n").join(
            stop_line(s, hide_time=bool(self.lapp.snapshot)) for s in board.stops
        )
        banner.update(shown(lines))

    def _chain_line(
        self, board: BoardData, runs: list[tuple[RunSummary, VerdictState]]
    ) -> str:
        lapp = self.lapp
        parts = []
        for origin, size in sorted(board.chain.items()):
            done = lapp.verified.get(origin)
            if lapp.verify_status == "INVALID" and done is None:
                state = f"[b red]INVALID[/] {markup_safe(lapp.verify_reason or '')}"
            elif done is None:
                state = "[yellow]unverified[/] (V to verify)"
            elif done >= size:
                state = f"[green]verified ✓[/] to {done}"
            else:
                state = f"[yellow]unverified since {done}[/] (+{size - done})"
            parts.append(f"{markup_safe(origin.rsplit('/', 1)[-1])}: {size} events, {state}")
        shown = f"runs {len(board.runs)}/{board.total_runs}"
        if self.filter_text:
            shown += f" (filter: {markup_safe(self.filter_text)})"
        failing = sum(1 for _, v in runs if v.fails)
        if failing:
            shown += f" │ [b red]failing {failing}[/]"
        if pending := sum(1 for _, v in runs if not v.trusted):
            shown += f" │ [yellow]verdicts unchecked {pending}[/]"
        shown += f" │ sort: {self.sort}"
        mode = " │ [b magenta]READ-ONLY[/]" if lapp.readonly else ""
        return (
            " │ ".join(parts or ["empty ledger"])
            + f" │ {shown} │ approvals open {len(board.approvals)}{_intake(board)}{mode}"
        )

    # ------------------------------------------------------------------ actions
    def selected_run(self) -> str | None:
        """Full run id under the cursor."""
        key = self._cursor_key(self.query_one("#runs", DataTable))
        line = self.lines.get(key) if key is not None else None
        return line.run_id if line is not None else None

    def _origin_of(self, run_id: str) -> str:
        return next(
            (line.origin for line in self.lines.values() if line.run_id == run_id),
            self.lapp.settings.origin(),
        )

    def action_filter(self) -> None:
        box = self.query_one("#board-filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Submitted, "#board-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        self.filter_text = event.value.strip()
        self.query_one("#runs", DataTable).focus()
        self.reload()

    def action_clear_filter(self) -> None:
        box = self.query_one("#board-filter", Input)
        box.value, self.filter_text = "", ""
        box.add_class("hidden")
        self.query_one("#runs", DataTable).focus()
        self.reload()

    @on(DataTable.RowSelected, "#runs")
    def _row_selected(self) -> None:
        self.action_open_run()

    def action_open_run(self) -> None:
        from tui.screens.timeline import TimelineScreen

        if (run := self.selected_run()) is not None:
            self.app.push_screen(TimelineScreen(runs=[run]))

    def action_mark(self) -> None:
        if (run := self.selected_run()) is None:
            return
        self.marked ^= {run}
        runs = self.query_one("#runs", DataTable)
        for key, line in self.lines.items():
            if line.run_id == run:
                runs.update_cell(key, "mark", "●" if run in self.marked else " ")

    def action_sort(self) -> None:
        """Failing first (default) <-> newest first; the cursor stays on its run."""
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        if self.board is not None:
            self._paint_board(self.board)

    def action_merged(self) -> None:
        from tui.screens.timeline import TimelineScreen

        runs = sorted(self.marked) or ([r] if (r := self.selected_run()) else [])
        if runs:
            self.app.push_screen(TimelineScreen(runs=runs))

    def action_whole_log(self) -> None:
        from tui.screens.timeline import TimelineScreen

        run = self.selected_run()
        origin = self._origin_of(run) if run else self.lapp.settings.origin()
        self.app.push_screen(TimelineScreen(origin=origin))

    def action_tsu(self) -> None:
        from tui.screens.tsu import TraceStopUndoScreen

        if (run := self.selected_run()) is not None:
            self.app.push_screen(TraceStopUndoScreen(run))

    def action_replay(self) -> None:
        from tui.screens.replay import ReplayScreen

        if (run := self.selected_run()) is not None:
            self.app.push_screen(ReplayScreen(run))

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen())

    def action_reload(self) -> None:
        self.reload()


def _intake(board: BoardData) -> str:
    """The intake backlog for the header (nothing when intake is empty), as `ledger verify`."""
    backlog = board.backlog
    if backlog is None or not backlog.count:
        return ""
    age = f"oldest {backlog.oldest_age_seconds or 0.0:.0f}s"
    if backlog.stalled:
        return f" │ [b red]intake {backlog.count} STALLED[/] ({age}, no sequencer running)"
    who = "sequencer running" if backlog.sequencer_running else "no sequencer running"
    return f" │ [yellow]intake {backlog.count}[/] ({age}, {who})"


def _cell_len(cell: object) -> int:
    """Terminal cells a board cell takes (Text or plain string)."""
    return cell.cell_len if isinstance(cell, Text) else Text(str(cell)).cell_len
