"""The board's run lines, built whole before they replace the table (pure: no widgets, no DB).

Why its own module: a refresh must never leave the board half-updated. Textual's DataTable
raises `DuplicateKey` halfway through a reload when two lines share a key (a run listed once per
log it has events in, or twice by a faulty read), which left one row, a stale header and no way
back. Here every line is built first, keys are unique by construction (origin and run id, then
a counter), and only a complete list is swapped in. Ordering (failing first, or newest first),
the columns at 80 columns (verdict second, ids and names clipped) and the marks (failing runs
red, stopped, under an active stop, suspended, abandoned, no run.started) live here too, so they
are testable without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text

from ledger.stoptargets import agent_target
from ledger.store.read import RunSummary
from ledger.store.stops import StopRow
from tui.literal import literal
from tui.verdicts import VerdictState

__all__ = ["COLUMNS", "SORTS", "BoardLine", "board_lines", "clip", "run_rank"]

# key -> (label, width or None for auto). The verdict comes right after the mark and the run, so
# it is visible at 80 columns; names are clipped so one hostile string cannot push it off screen.
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("mark", " ", 1),
    ("run", "run", 13),
    ("verdict", "verdict", None),
    ("status", "status", None),
    ("agent", "agent", None),
    ("user", "user", None),
    ("started", "started", 16),
    ("events", "events", None),
    ("log", "log", None),
)
NAME_WIDTH = 18  # agent, user, log: longer names end with "…" (the Trace panel has them whole)
STATUS_WIDTH = 24
SORTS = ("failing", "newest")  # `o` cycles; failing first is the default

STATUS_STYLE = {
    "stopped": "bold magenta",
    "failed": "bold red",
    "cancelled": "yellow",
    "abandoned": "yellow",
    "suspended": "cyan",
    "running": "",
    "succeeded": "",
}


@dataclass(frozen=True, slots=True)
class BoardLine:
    """One row of the runs table: its unique key, the run it opens, and its cells."""

    key: str
    run_id: str
    origin: str
    cells: tuple[Text, ...]


def clip(value: object, width: int) -> Text:
    """Recorded text, literal (controls escaped, never markup) and at most `width` cells."""
    text = literal(value)
    if text.cell_len > width:
        text.truncate(width - 1)
        text.append("…")
    return text


def run_rank(verdict: VerdictState) -> int:
    """0 failing, 1 not known yet (verdicts missing or stale), 2 unknown rules, 3 pass."""
    if verdict.fails:
        return 0
    if verdict.state in ("missing", "stale"):
        return 1
    return 2 if verdict.unknown else 3


def _status(s: RunSummary, stopped: bool) -> Text:
    """The status cell: `stopped`, `failed`… styled; `■stop` when an active stop names the run,
    `⇣imported` for history copied from another system, `⚑exercise` for a tabletop's runs."""
    cell = clip(s.status, STATUS_WIDTH)
    cell.style = STATUS_STYLE.get(s.status, "bold yellow")  # e.g. "no run.started (running)"
    if stopped:
        cell.append(" ■stop", style="bold magenta")
    if s.imported:
        cell.append(" ⇣imported", style="cyan")
    if s.origin.rsplit("/", 1)[-1].startswith("exercise-"):
        cell.append(" ⚑exercise", style="bold cyan")
    return cell


def _under_stop(
    stops: Sequence[StopRow], run_id: str, origin: str, agent: str | None, status: str
) -> bool:
    """Whether an open run is named by an active stop on its run, its tenant or its agent.

    Tool-scoped stops need the run's events (the Trace panel and `ledger tui --run` show them).
    """
    if status not in ("running", "suspended"):
        return False
    tenant = origin.rsplit("/", 1)[-1]
    names = {f"run:{run_id}", f"tenant:{tenant}"}
    if agent:
        names.add(agent_target(agent))
    return any(s.origin == origin and s.target.split("@", 1)[0] in names for s in stops)


def board_lines(
    runs: Sequence[tuple[RunSummary, VerdictState]],
    *,
    marked: set[str],
    stops: Sequence[StopRow] = (),
    sort: str = "failing",
) -> list[BoardLine]:
    """The runs table's lines in display order (`runs`: (RunSummary, verdict), newest first)."""
    order = list(range(len(runs)))
    if sort == "failing":  # stable: newest first inside each rank
        order.sort(key=lambda i: run_rank(runs[i][1]))
    lines: list[BoardLine] = []
    seen: dict[str, int] = {}
    for i in order:
        summary, verdict = runs[i]
        run_id, origin = str(summary.run_id), summary.origin
        base = f"{origin}\x00{run_id}"
        seen[base] = seen.get(base, 0) + 1
        key = base if seen[base] == 1 else f"{base}\x00{seen[base]}"
        cells = _cells(summary, verdict, run_id, marked, stops)
        lines.append(BoardLine(key, run_id, origin, cells))
    return lines


def _cells(
    s: RunSummary, verdict: VerdictState, run_id: str, marked: set[str], stops: Sequence[StopRow]
) -> tuple[Text, ...]:
    agent, status, origin = s.agent, str(s.status), s.origin
    started = str(s.started_at)[:16].replace("T", " ")
    return (
        Text("●" if run_id in marked else " "),
        Text(run_id[:13], style="bold red" if verdict.fails else ""),
        verdict.styled(),
        _status(s, _under_stop(stops, run_id, origin, agent, status)),
        clip(agent or "-", NAME_WIDTH),
        clip(s.initiating_user or "-", NAME_WIDTH),
        clip(started, 16),
        Text(str(s.event_count)),
        clip(origin.rsplit("/", 1)[-1], NAME_WIDTH),
    )
