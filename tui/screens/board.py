"""The board: runs (filterable), open approvals, chain status per log, live as events arrive.

Why it reloads in a worker on every `LedgerAppended`: the message coalesces bursts
(`can_replace`) and the worker is `exclusive`, so a storm of sequencer batches costs one query
round at a time and the UI never blocks.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

import psycopg
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from ledger.errors import LedgerError
from tui.data import BoardData, parse_filter
from tui.literal import literal, markup_safe, shown
from tui.messages import BoardLoaded, Notice, VerdictsRechecked
from tui.screens.common import LedgerScreen
from tui.stopview import STATUS_STYLE, stop_line
from tui.verdicts import VerdictState, recheck

__all__ = ["BoardScreen"]


class BoardScreen(LedgerScreen):
    """Runs, open approvals and chain status."""

    WRITE_ACTIONS = frozenset({"export"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            id="board.filter",
            tooltip="agent:x user:y status:z verdict:fail since:2026-01-01 text",
        ),
        Binding("escape", "clear_filter", "Clear", show=False, id="board.clear"),
        Binding("r", "reload", "Refresh", id="board.reload", tooltip="Re-read the board"),
        Binding("enter", "open_run", "Timeline", id="board.open", tooltip="Timeline of the run"),
        Binding("space", "mark", "Mark", id="board.mark", tooltip="Mark runs to merge"),
        Binding(
            "M", "merged", "Merged", id="board.merged", tooltip="Merged timeline of marked runs"
        ),
        Binding(
            "l", "whole_log", "Whole log", id="board.log", tooltip="Every event of the run's log"
        ),
        Binding("s", "tsu", "Trace/Stop/Undo", id="board.tsu"),
        Binding("R", "replay", "Replay", id="board.replay"),
        Binding("e", "export", "Export", id="board.export", tooltip="Evidence export"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.marked: set[str] = set()
        self.board: BoardData | None = None
        self.filter_text = ""
        self.known: dict[uuid.UUID, VerdictState] = {}  # recomputed this session
        self.rechecking: dict[uuid.UUID, int] = {}  # run -> last seq, in the worker now

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("chain: loading…", id="chain-status")
        yield Static("", id="stops-banner", classes="hidden")
        yield Input(
            placeholder="filter runs: agent:x user:y status:failed verdict:fail since:…",
            id="board-filter",
            classes="hidden",
        )
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield Label("Open approvals", classes="section")
        yield DataTable(id="approvals", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        runs = self.query_one("#runs", DataTable)
        runs.add_columns(
            " ", "run", "agent", "user", "started", "status", "events", "verdict", "log"
        )
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
        self.post_message(BoardLoaded(self.lapp.data.board(parse_filter(text), known=known)))

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
        runs = self.query_one("#runs", DataTable)
        column = runs.ordered_columns[7].key
        for run in message.asked:
            self.rechecking.pop(run, None)
        for rid, state in message.states.items():
            self.known[uuid.UUID(rid)] = state
            if rid in runs.rows:
                runs.update_cell(rid, column, state.cell())

    @on(BoardLoaded)
    def _show(self, message: BoardLoaded) -> None:
        board = self.board = message.board
        runs = self.query_one("#runs", DataTable)
        keep = runs.cursor_row
        runs.clear()
        for br in board.runs:
            r = br.summary
            rid = str(r.run_id)
            verdict = br.verdict.cell()
            runs.add_row(
                "●" if rid in self.marked else " ",
                rid[:13],
                literal(r.agent or "-"),
                literal(r.initiating_user or "-"),
                r.started_at[:19].replace("T", " "),
                literal(r.status, style=STATUS_STYLE.get(r.status, "")),
                str(r.event_count),
                verdict,
                literal(r.origin.rsplit("/", 1)[-1]),
                key=rid,
            )
        if board.runs:
            runs.move_cursor(row=min(keep, len(board.runs) - 1))
        approvals = self.query_one("#approvals", DataTable)
        approvals.clear()
        for a in board.approvals:
            approvals.add_row(  # every cell is a writer's text: never parsed as markup
                literal(a.run_id[:13]),
                literal(a.approval_id),
                literal(a.tool),
                literal(",".join(a.required_roles)),
                literal(a.reason),
                key=f"{a.origin}/{a.seq}",
            )
        self.query_one("#chain-status", Static).update(self._chain_line(board))
        self._show_stops(board)
        self._start_recheck(board)

    def _show_stops(self, board: BoardData) -> None:
        """The stops in force, one line each, above the runs (hidden when there are none)."""
        banner = self.query_one("#stops-banner", Static)
        banner.set_class(not board.stops, "hidden")
        lines = Text("\n").join(
            stop_line(s, hide_time=bool(self.lapp.snapshot)) for s in board.stops
        )
        banner.update(shown(lines))

    def _chain_line(self, board: BoardData) -> str:
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
        mode = " │ [b magenta]READ-ONLY[/]" if lapp.readonly else ""
        return (
            " │ ".join(parts or ["empty ledger"])
            + f" │ {shown} │ approvals open {len(board.approvals)}{_intake(board)}{mode}"
        )

    # ------------------------------------------------------------------ actions
    def selected_run(self) -> str | None:
        """Full run id under the cursor."""
        runs = self.query_one("#runs", DataTable)
        if not runs.row_count:
            return None
        key = runs.coordinate_to_cell_key(runs.cursor_coordinate).row_key
        return str(key.value)

    def _origin_of(self, run_id: str) -> str:
        assert self.board is not None
        return next(
            (br.summary.origin for br in self.board.runs if str(br.summary.run_id) == run_id),
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
        runs.update_cell(run, runs.ordered_columns[0].key, "●" if run in self.marked else " ")

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
