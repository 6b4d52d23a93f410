"""The Pilot half of bench/bench_incident.py: reading the screen, the walk, the baseline app.

Separate so tests/bench can drive the same walk over a test ledger without the benchmark's
command line; it imports nothing of the tree at module level (the Textual and `tui` imports are
inside the functions), so bench_incident.py can load it before `--tree` picks the code to walk.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

STEP_LIMIT = 60.0  # seconds before a step counts as hung
STOP_REASON = "exfiltration to gmai1.com"

__all__ = ["STEP_LIMIT", "STOP_REASON", "roundtrip", "stops_of", "walk"]


def stops_of(conn: Any) -> int:
    """Stops recorded, read on a connection of our own (what an agent would see). Any target:
    the pane picks the scope (this run while it runs; its agent@version once it has ended)."""
    row = conn.execute("SELECT count(*) FROM ledger_stops").fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------------- reading the screen
def plain(widget: Any) -> str:
    """A widget's text: a Static's content, a DataTable's cells (any widget type otherwise '')."""
    from textual.widgets import DataTable, Static

    if isinstance(widget, DataTable):
        rows = (widget.get_row_at(i) for i in range(widget.row_count))
        return "\n".join(" ".join(str(c) for c in row) for row in rows)
    if isinstance(widget, Static):
        return str(widget.render())
    return ""


def text_under(root: Any) -> str:
    """Every Static and DataTable text under `root` (a screen or a pane), in DOM order."""
    return "\n".join(t for w in root.query("*") if (t := plain(w)))


async def until(pilot: Any, ready: Callable[[], bool], what: str) -> float:
    """Seconds until `ready()` holds, pumping the app's loop; TimeoutError naming `what`."""
    start = time.perf_counter()
    while not ready():
        if time.perf_counter() - start > STEP_LIMIT:
            raise TimeoutError(f"{what}: not reached in {STEP_LIMIT:.0f}s")
        await pilot.pause(0.002)
    return time.perf_counter() - start


def _safe(ready: Callable[[], bool]) -> Callable[[], bool]:
    """`ready` that is False while the widgets it reads are not mounted yet."""

    def check() -> bool:
        try:
            return ready()
        except Exception:  # NoMatches, a screen mid-switch: not ready yet
            return False

    return check


# ---------------------------------------------------------------------------- the walk
async def select_run(pilot: Any, run_id: str) -> None:
    """Put the board's cursor on the run: by its row key, else the row showing its id."""
    from textual.widgets import DataTable

    table = pilot.app.screen.query_one("#runs", DataTable)
    keys = [str(k.value) for k in table.rows]
    if run_id in keys:
        index = keys.index(run_id)
    else:
        texts = [" ".join(map(str, table.get_row_at(i))) for i in range(table.row_count)]
        index = next(i for i, t in enumerate(texts) if run_id[:13] in t)  # as the board shows it
    table.focus()
    table.move_cursor(row=index)
    await pilot.pause()


async def type_into(pilot: Any, field: Any, text: str) -> int:
    """Type `text` key by key into the focused `field`; how many characters did not land (the
    field is then set right, so the walk goes on)."""
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text])
    got = str(field.value)
    if got == text:
        return 0
    print(f"  form lost keys: typed {text!r}, the field holds {got!r}", file=sys.stderr)
    field.value = text
    return max(len(text) - len(got), 1)


def stop_fields(screen: Any) -> tuple[Any, Any]:
    """(reason, confirmation) inputs of the Stop pane: by id, else the pane's first and last."""
    from textual.widgets import Input

    found = {w.id: w for w in screen.query(Input)}
    if "stop-reason" in found and "stop-confirm" in found:
        return found["stop-reason"], found["stop-confirm"]
    inputs = list(screen.query_one("#stop").query(Input))
    return inputs[0], inputs[-1]


async def stop_through_form(pilot: Any, dsn: str) -> tuple[float, int]:
    """Reason, Enter, STOP, Enter as an operator types them: (seconds to recorded, keys lost)."""
    screen = pilot.app.screen
    await pilot.press("2")
    reason, confirm = stop_fields(screen)
    await until(pilot, lambda: screen.focused is reason, "focus on the stop reason")
    lost = await type_into(pilot, reason, STOP_REASON)
    await pilot.press("enter")
    if screen.focused is not confirm:  # a form that does not move on by itself
        confirm.focus()
        await pilot.pause()
    lost += await type_into(pilot, confirm, "STOP")
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:  # opened before the clock starts
        before = stops_of(conn)
        start = time.perf_counter()
        await pilot.press("enter")
        while await asyncio.to_thread(stops_of, conn) <= before:
            if time.perf_counter() - start > STEP_LIMIT:
                notes = "; ".join(str(n.message) for n in pilot.app._notifications)
                raise TimeoutError(f"stop: not recorded in the ledger (screen said: {notes})")
            await pilot.pause(0.002)
        return time.perf_counter() - start, lost


def traced(screen: Any) -> bool:
    """The Trace pane shows the run's initiator and its run chain (not "tracing…")."""
    text = text_under(screen.query_one("#trace"))
    return "initiated by" in text and "run chain" in text


def dry_run_shown(screen: Any) -> bool:
    """The Undo pane shows the dry run's outcome: the plan with a verdict per step, or why it
    failed (by words, and by the screen's plan, whatever widget the verdicts move to)."""
    text = text_under(screen.query_one("#undo"))
    if "planning" in text:
        return False
    words = ("would run", "would not run", "failed", "refused", "error")
    return getattr(screen, "plan", None) is not None or any(w in text for w in words)


async def walk(settings: Any, run_id: str, size: tuple[int, int]) -> dict[str, float]:
    """One walk from a cold app: the figures of WALK, plus the keys the form lost."""
    from textual.widgets import DataTable

    from tui.app import LedgerApp

    out: dict[str, float] = {}
    start = time.perf_counter()
    app = LedgerApp(settings, listen=False, user="oncall@example.com")
    async with app.run_test(size=size) as pilot:
        rows = _safe(lambda: app.screen.query_one("#runs", DataTable).row_count > 0)
        await until(pilot, rows, "board")
        out["board_s"] = time.perf_counter() - start
        await select_run(pilot, run_id)
        t0 = time.perf_counter()
        await pilot.press("s")
        await until(pilot, _safe(lambda: traced(app.screen)), "trace")
        out["trace_s"] = time.perf_counter() - t0
        out["stop_s"], out["form_keys_lost"] = await stop_through_form(pilot, settings.dsn)
        app.screen.set_focus(None)  # keys go to the screen's bindings, as after Esc
        await pilot.press("3")
        t0 = time.perf_counter()
        await pilot.press("y")
        await until(pilot, _safe(lambda: dry_run_shown(app.screen)), "undo dry run")
        out["undo_s"] = time.perf_counter() - t0
        steps = app.screen.query_one("#undo").query(DataTable)
        out["undo_steps"] = float(steps.first().row_count if steps else 0)
    app.data.close()
    return out


# ---------------------------------------------------------------------------- the baseline
async def roundtrip(dsn: str, size: tuple[int, int], times: int = 5) -> float:
    """Median seconds of the smallest step: key -> thread worker `SELECT 1` -> message -> paint."""
    import psycopg
    from textual import work
    from textual.app import App, ComposeResult
    from textual.binding import BindingType
    from textual.message import Message
    from textual.widgets import Static

    class Answered(Message):
        def __init__(self, value: int) -> None:
            super().__init__()
            self.value = value

    class Trivial(App[None]):
        BINDINGS: ClassVar[list[BindingType]] = [("a", "ask", "Ask")]

        def __init__(self) -> None:
            super().__init__()
            self.conn = psycopg.connect(dsn, autocommit=True)
            self.asked = 0

        def compose(self) -> ComposeResult:
            yield Static("-", id="answer")

        def action_ask(self) -> None:
            self.asked += 1
            self.ask(self.asked)

        @work(thread=True, exclusive=True)
        def ask(self, n: int) -> None:
            row = self.conn.execute("SELECT %s::int", (n,)).fetchone()
            self.post_message(Answered(row[0] if row else -1))

        def answered(self, text: str) -> bool:
            return plain(self.query_one("#answer")) == text

        def on_answered(self, message: Answered) -> None:
            self.query_one("#answer", Static).update(f"answer {message.value}")

    app = Trivial()
    seconds: list[float] = []
    async with app.run_test(size=size) as pilot:
        for n in range(1, times + 2):
            t0 = time.perf_counter()
            await pilot.press("a")
            await until(pilot, _safe(partial(app.answered, f"answer {n}")), "round trip")
            if n > 1:  # the first pays for the first query: a warm-up
                seconds.append(time.perf_counter() - t0)
    app.conn.close()
    return statistics.median(seconds)
