"""The `ledger tui` App: global bindings, theme, live LISTEN loop, verification worker.

Why the App holds so little: screens own their data and workers; the App owns what is shared by
all of them — the read connection (`LedgerData`), the readonly flag, the chain-verification
state shown on the board, the exercise (if any), and the LISTEN loop that turns the sequencer's
`pg_notify('ledger_appended', '<origin> <size>')` into coalescing `LedgerAppended` messages.

Start-up order (why the TUI opens loaded and live every time): the database is resolved once
(`LedgerData.pinned`, which starts or reuses the embedded server under its locks); the LISTEN
loop connects and LISTENs first, and the board's first read waits for that (`LedgerData.gate`),
so no event can fall between the first read and the first notification. The loop never gives
up: a lost connection is retried with backoff, shown in the header (live / reconnecting /
polling), and each reconnection re-reads the log sizes once, so what was appended meanwhile
appears. The user's own writes post the same sizes, so they show even while LISTEN is down.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState, get_current_worker

from ledger.config import Settings
from ledger.errors import InputError, LedgerError
from ledger.store.board import watch_appended
from ledger.terminal import printable
from tui.commands import LedgerCommands
from tui.data import LedgerData
from tui.exercise import Exercise
from tui.live import POLL_SECONDS, REPLICA_RETRY_SECONDS, await_replica, poll
from tui.messages import (
    LedgerAppended,
    LiveState,
    Notice,
    ScenarioSeeded,
    StopRecorded,
    UndoNote,
    VerifyFinished,
)

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from ledger.authority.trust import TrustRoot
    from tui.writer import Writer

__all__ = ["BACKOFF_SECONDS", "POLL_SECONDS", "LedgerApp", "ReadOnlyError"]

#: Waits between reconnection attempts of the live loop (the last one repeats).
BACKOFF_SECONDS = (0.5, 1.0, 2.0, 4.0, 5.0)


class ReadOnlyError(InputError):
    """A write was asked of a read-only (auditor) session."""


class LedgerApp(App[None]):
    """Forensics and incident-response terminal UI over the ledger."""

    TITLE = "agent-ledger"
    CSS_PATH = "app.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]  # noqa: RUF012 - Textual's own type
    COMMANDS = App.COMMANDS | {LedgerCommands}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Keys of this screen"),
        Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", tooltip="Dark / light theme"),
        Binding(
            "V", "verify", "Verify", id="app.verify", tooltip="Verify every chain and checkpoint"
        ),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(
        self,
        settings: Settings,
        *,
        readonly: bool = False,
        run_id: str | None = None,
        exercise: Path | None = None,
        snapshot: bool = False,
        listen: bool = True,
        user: str = "investigator",
        trust_root: TrustRoot | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.trust_root = trust_root  # judges approvals, undo approvals and stops (None: none)
        self.data = LedgerData(settings, migrate=not readonly)
        self.readonly = readonly
        self.start_run = run_id
        self.snapshot = snapshot
        self.listen = listen and not snapshot
        self.user = user
        self.exercise: Exercise | None = Exercise.load(exercise) if exercise else None
        self.verified: dict[str, int] = {}
        self.verify_status = "unverified"
        self.verify_reason: str | None = None
        self._stop = threading.Event()
        self.live_state = "off" if not self.listen else "connecting"
        self.live_detail = ""
        self.backoff = BACKOFF_SECONDS  # waits between reconnection attempts
        self.poll_seconds = POLL_SECONDS  # size reads when LISTEN is not possible (tui.live)
        if self.listen:
            self.data.gate = threading.Event()
        self._writer: Writer | None = None
        self.last_error: str | None = None
        self.theme = "textual-dark"
        self._show_live()

    def on_mount(self) -> None:
        from tui.screens.board import BoardScreen

        self.push_screen(BoardScreen())
        if self.exercise is not None:
            from tui.screens.exercise import ExerciseScreen

            self.push_screen(ExerciseScreen(self.exercise))
        elif self.start_run:
            from tui.screens.timeline import TimelineScreen

            self.push_screen(TimelineScreen(runs=[self.start_run]))
        if self.listen:
            self.listen_loop()

    def on_unmount(self) -> None:
        self._stop.set()
        if self.data.gate is not None:
            self.data.gate.set()
        self.data.close()

    # ------------------------------------------------------------------ live updates
    @work(
        thread=True,
        exclusive=True,
        group="listen",
        exit_on_error=False,
        description="LISTEN ledger_appended",
    )
    def listen_loop(self) -> None:
        """Forward sequencer notifications as coalescing LedgerAppended messages, for good.

        Every failure (server down, restarted, unreachable) is retried after BACKOFF_SECONDS;
        after a reconnection the log sizes are re-read once (`_catch_up`).
        """
        worker = get_current_worker()

        def keep_going() -> bool:
            return not self._stop.is_set() and not worker.is_cancelled

        failures = 0
        while keep_going():
            try:
                with psycopg.connect(self.data.dsn(), autocommit=True, connect_timeout=5) as conn:
                    self._follow(conn, keep_going, catch_up=failures > 0)
                return
            except (psycopg.Error, LedgerError) as exc:
                if self.data.gate is not None:
                    self.data.gate.set()  # the board reads (and says why it cannot) meanwhile
                if self.data.replica and self._poll_replica(keep_going, _first_line(exc)):
                    failures = 1  # the primary is tried again; its LISTEN catches up
                    continue
                delay = self.backoff[min(failures, len(self.backoff) - 1)]
                failures += 1
                reason = _first_line(exc)
                if failures == 1:
                    self.post_message(Notice(f"live updates lost: {reason}", error=True))
                self.post_message(
                    LiveState("reconnecting", f"attempt {failures} in {delay:g} s: {reason}")
                )
                self._stop.wait(delay)

    def _follow(
        self, conn: psycopg.Connection, keep_going: Callable[[], bool], *, catch_up: bool
    ) -> None:
        """LISTEN on `conn` (or poll it when the server refuses LISTEN) until told to stop."""

        def listening() -> None:
            if self.data.gate is not None:
                self.data.gate.set()
            self.post_message(LiveState("live"))
            if catch_up:
                self._catch_up()

        try:
            for origin, size in watch_appended(conn, keep_going, listening):
                await_replica(self.data, origin, size, keep_going, self._stop)
                self.post_message(LedgerAppended(origin, size))
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:  # LISTEN itself refused: read the sizes instead
            self.post_message(LiveState("polling", _first_line(exc)))
            if self.data.gate is not None:
                self.data.gate.set()
            poll(conn, keep_going, self.post_message, self._stop, every=self.poll_seconds)

    def _poll_replica(self, keep_going: Callable[[], bool], reason: str) -> bool:
        """The primary is unreachable: poll the replica's sizes for REPLICA_RETRY_SECONDS (a hot
        standby cannot LISTEN). False when the replica cannot be read either."""
        from ledger.db.connect import read_connection

        try:
            with read_connection(self.settings) as conn:
                self.post_message(LiveState("polling", f"primary unreachable: {reason}"))
                poll(conn, keep_going, self.post_message, self._stop, every=self.poll_seconds,
                     seconds=REPLICA_RETRY_SECONDS)  # fmt: skip
        except (psycopg.Error, LedgerError):
            return False
        return True

    def _catch_up(self) -> None:
        """Post every log's current size: the screens re-read what changed meanwhile."""
        for origin, size in self.data.sizes().items():
            self.post_message(LedgerAppended(origin, size))

    @work(thread=True, group="catch-up", exit_on_error=False, description="Re-reading sizes")
    def catch_up(self) -> None:
        """`_catch_up` in a worker: after the user's own writes, LISTEN up or not."""
        self._catch_up()

    def on_live_state(self, message: LiveState) -> None:
        was, self.live_state = self.live_state, message.state
        self.live_detail = message.detail
        if was == "reconnecting" and message.state == "live":
            self.notify("live updates back")
        self._show_live()

    def _show_live(self) -> None:
        """The live state in the header (on every screen), after the read-only mark."""
        parts = ["read-only auditor mode"] if self.readonly else []
        if self.live_state == "reconnecting":
            parts.append(f"reconnecting ({self.live_detail})")
        elif self.live_state == "polling":
            where = "the replica " if self.data.replica else ""
            parts.append(f"polling {where}every {self.poll_seconds:g} s (no LISTEN)")
        elif self.live_state != "off":
            parts.append(self.live_state)
        if self.data.replica:
            parts.append("reads: replica")
        self.sub_title = " · ".join(parts)

    def on_stop_recorded(self, message: StopRecorded) -> None:
        if not message.refused:
            self.catch_up()

    def on_undo_note(self, message: UndoNote) -> None:
        if not message.refused:
            self.catch_up()

    def on_scenario_seeded(self, message: ScenarioSeeded) -> None:
        self.catch_up()

    def on_ledger_appended(self, message: LedgerAppended) -> None:
        screen: Any = self.screen
        if hasattr(screen, "ledger_appended"):
            screen.ledger_appended(message.origin, message.size)
        for other in self.screen_stack:
            if other is not screen and hasattr(other, "stale"):
                other.stale = True

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every toast as literal text: toasts quote errors and reasons that carry a writer's text.

        Why here: screens and widgets notify through the app, so one override covers them all;
        markup in a toast would be parsed (and an unbalanced tag would raise).
        """
        super().notify(
            printable(message),
            title=printable(title),
            severity=severity,
            timeout=timeout,
            markup=False,
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Workers run with exit_on_error=False: their failures become notifications."""
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.last_error = f"{event.worker.description}: {type(error).__name__}: {error}"
            self.notify(self.last_error, severity="error", timeout=10)

    def on_notice(self, message: Notice) -> None:
        self.notify(message.text, severity="error" if message.error else "information")

    # ------------------------------------------------------------------ verification
    def action_verify(self) -> None:
        self.verify_status = "verifying…"
        self.verify_worker()

    @work(
        thread=True,
        exclusive=True,
        group="verify",
        exit_on_error=False,
        description="Verifying the ledger",
    )
    def verify_worker(self) -> None:
        """Full verification (chains, projections, Merkle roots, checkpoint signatures)."""
        from ledger.db.connect import connect, read_connection
        from ledger.verify import verify_ledger

        if self.data.replica:  # verify reads only: on the replica, never migrated
            opened = read_connection(self.settings)
        else:
            opened = connect(self.data.pinned(), migrate=self.data.migrate)
        with opened as conn:
            report = verify_ledger(conn, self.settings)
        self.post_message(VerifyFinished(report.status, dict(report.origins), report.reason))

    def on_verify_finished(self, message: VerifyFinished) -> None:
        self.verify_status = "verified" if message.status == "ok" else "INVALID"
        self.verify_reason = message.reason
        self.verified = message.sizes
        screen: Any = self.screen
        if hasattr(screen, "reload"):
            screen.reload()
        self.notify(
            f"verify: {self.verify_status}" + (f" — {message.reason}" if message.reason else ""),
            severity="information" if message.status == "ok" else "error",
        )

    # ------------------------------------------------------------------ craft
    def action_toggle_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def action_board(self) -> None:
        while len(self.screen_stack) > 2:
            self.pop_screen()

    def action_whole_log(self) -> None:
        from tui.screens.timeline import TimelineScreen

        self.push_screen(TimelineScreen(origin=self.settings.origin()))

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        if self.writes_allowed():
            self.push_screen(ExportScreen())

    def action_aar(self) -> None:
        from tui.screens.exercise import write_report  # issue 18: the AAR from the ledger record

        write_report(self)

    def writer(self) -> Writer:
        """The write side (tui.writer), imported on first use; refused in --readonly mode.

        Why lazily: a read-only session must never load a write API at all, so the import of
        ledger.operator and the write door happens here, behind the readonly check.
        """
        if self.readonly:
            raise ReadOnlyError("read-only auditor mode: writes are disabled")
        if self._writer is None:
            from tui.writer import Writer

            self._writer = Writer(self.data, self.user, self.trust_root)
        return self._writer

    def writes_allowed(self) -> bool:
        """False in --readonly mode (callers hide the action)."""
        if self.readonly:
            self.notify("read-only auditor mode: writes are disabled", severity="warning")
        return not self.readonly

    def tenant_for(self, tenant: str) -> str:
        """Where the TUI writes: the exercise namespace when an exercise runs, else `tenant`."""
        return self.exercise.tenant if self.exercise is not None else tenant


def _first_line(exc: BaseException) -> str:
    """An exception as one line (psycopg's carry a multi-line server message)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
