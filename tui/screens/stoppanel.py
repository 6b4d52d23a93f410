"""The Stop tab of Trace / Stop / Undo: the TUI side of the kill switch.

Why it calls `ledger.stops` (through tui.writer) and nothing else: `ledger stop`, `ledger
resume` and this panel must record the same events under the same rules, so a stop from the
TUI halts the same agents the CLI would, and a refusal is the same one line with nothing
recorded. The operator picks a scope (this run by default, the run's agent@version, its agent,
its tenant, or the tool when the panel was opened on a tool call), gives a reason and types
STOP (or RESUME, to lift an active stop of exactly that scope). In an exercise both stay dry
runs recorded as decisions in the exercise namespace.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Input, RadioButton, RadioSet, Static

from ledger.stoptargets import parse_agent_target
from ledger.store.stops import StopRow
from tui.inspect import RunTrace
from tui.literal import literal, shown
from tui.messages import StopRecorded
from tui.rows import Row
from tui.screens.common import Form, LedgerScreen
from tui.stopview import applying, scope_choices, stop_line

__all__ = ["StopPanel"]

HALTS = (
    "A stop halts agents on the ledger hooks at their next tool call, LLM call or approval wait "
    "(ledger.RunStopped; the run ends `stopped`); new runs in the scope refuse to start. "
    "Pause ≠ revoke: credentials stay valid until revoked.\n"
)


_EXERCISE = "bold magenta"


class StopPanel(LedgerScreen):
    """The Stop tab's widgets and actions; TraceStopUndoScreen mounts them in its Stop pane."""

    run_id: str
    row: Row | None
    trace: RunTrace | None

    def compose_stop(self) -> ComposeResult:
        """The Stop pane: the hint line (always in view), then, scrolling: the scope, the reason,
        the typed confirmation and the buttons first (in view at 80x24 without scrolling, above
        the toasts' corner: INCIDENT18 #11), then who may stop and the stops in force."""
        if self.lapp.readonly:
            yield Static("read-only auditor mode: stopping is hidden", classes="muted")
        else:
            yield Static("", id="stop-hint")
        with Form(id="stop-form", nav_keys=("1", "2", "3")):
            if self.lapp.readonly:
                yield Static("", id="stop-who")
                yield Static("", id="stop-active")
                return
            yield RadioSet(id="stop-scope")
            yield Input(placeholder="reason (recorded in the ledger)", id="stop-reason")
            yield Static(
                "confirm: type [b]STOP[/] to stop this scope ([b]RESUME[/] lifts its stop), "
                "then enter · tab: next field · escape: cancel",
                id="stop-what",
            )
            yield Input(placeholder="type STOP to confirm (RESUME lifts it)", id="stop-confirm")
            with Horizontal(id="stop-buttons"):
                yield Button("Request stop", id="stop-button", variant="error")
                yield Button("Resume", id="resume-button", variant="primary")
            yield Static("", id="stop-who")
            yield Static("", id="stop-active")

    def _tool(self) -> str | None:
        """The tool of the tool call the panel was opened on (None: opened on the run)."""
        data = (self.row.document().get("data") or {}) if self.row is not None else {}
        tool = data.get("tool")
        return str(tool) if tool else None

    def ended_note(self) -> str | None:
        """For a run that has ended, what the pane says before any confirmation (INCIDENT18 #7):
        stopping the run itself halts nothing, so the agent@version scope is chosen instead."""
        trace = self.trace
        if trace is None or not any(d.get("type") == "run.ended" for d in trace.docs):
            return None
        return (
            f"this run has ended ({trace.status}): a stop of the run alone halts nothing; "
            "the scope is its agent@version (new runs of it refuse to start)"
        )

    def _default_scope(self, choices: list[tuple[str, str]]) -> int:
        """This run, or for an ended run the agent@version scope when there is one."""
        if self.ended_note() is None:
            return 0
        for i, (_, target) in enumerate(choices):
            if target.startswith("agent:") and parse_agent_target(target[6:])[1] is not None:
                return i
        return 0

    def show_stop_facts(self, trace: RunTrace, stops: list[StopRow]) -> None:
        """Fill the pane once the trace is read: who may stop, the stops in force on this run,
        and the scope choices (the first time only: the operator's choice is kept)."""
        who = Text()
        who.append("Who may stop this run ", style="bold")
        who.append(f"({trace.stop_basis}):\n", style="dim")
        for person in trace.may_stop or ["nobody found — escalate"]:
            who.append(f"  • {person}\n")
        who.append(HALTS, style="yellow")
        if note := self.ended_note():
            who.append(note + "\n", style="bold yellow")
        if self.lapp.exercise is not None:
            who.append("EXERCISE: stop is a dry run recorded as a decision.\n", style=_EXERCISE)
        self.query_one("#stop-who", Static).update(shown(who))
        active = applying(stops, self.run_id, trace.docs, trace.origin)
        lines = [stop_line(s, hide_time=bool(self.lapp.snapshot)) for s in active]
        self.query_one("#stop-active", Static).update(shown(Text("\n").join(lines)))
        if self.lapp.readonly:
            return
        scopes = self.query_one("#stop-scope", RadioSet)
        if not scopes.children:
            choices = scope_choices(self.run_id, trace.docs, self._tool())
            default = self._default_scope(choices)
            for i, (label, target) in enumerate(choices):
                button = RadioButton(literal(label), value=i == default, id=f"scope-{i}")
                button.target = target  # type: ignore[attr-defined]
                scopes.mount(button)

    def chosen_target(self) -> str:
        """The target of the chosen scope (this run when nothing is chosen). A button mounted
        already on is not the RadioSet's `pressed_button` until one is clicked: read its value."""
        scopes = self.query_one("#stop-scope", RadioSet)
        pressed: Any = scopes.pressed_button or next(
            (b for b in scopes.query(RadioButton) if b.value), None
        )
        return str(getattr(pressed, "target", f"run:{self.run_id}"))

    @on(Input.Submitted, "#stop-reason")
    def _reason_submitted(self) -> None:
        self.query_one("#stop-confirm", Input).focus()
        self.query_one("#stop-hint", Static).update("reason noted: now type STOP and press enter")

    @on(Form.Cancelled, "#stop-form")
    def _stop_cancelled(self) -> None:
        """Escape in the form: the typed confirmation goes, the reason stays; nothing recorded."""
        self.query_one("#stop-confirm", Input).value = ""
        hint = "cancelled: nothing recorded (2: back to the form · escape: back)"
        self.query_one("#stop-hint", Static).update(hint)

    @on(Button.Pressed, "#stop-button")
    def _stop_pressed(self) -> None:
        self.stop_or_resume("STOP")

    @on(Button.Pressed, "#resume-button")
    def _resume_pressed(self) -> None:
        self.stop_or_resume("RESUME")

    @on(Input.Submitted, "#stop-confirm")
    def _stop_submitted(self, event: Input.Submitted) -> None:
        word = event.value.strip()
        self.stop_or_resume(word if word == "RESUME" else "STOP")

    def stop_or_resume(self, word: str) -> None:
        """Check the typed confirmation, then record the stop (or lift) in a worker."""
        if not self.lapp.writes_allowed() or self.trace is None:
            return
        if self.query_one("#stop-confirm", Input).value.strip() != word:
            self.notify(f"type {word} to confirm", severity="warning")
            return
        action = "stop" if word == "STOP" else "resume"
        default = "stopped from ledger tui" if action == "stop" else "resumed from ledger tui"
        reason = self.query_one("#stop-reason", Input).value.strip() or default
        target = self.chosen_target()
        self.set_focus(None)  # the form is done: keys go back to the screen's bindings
        exercise = self.lapp.exercise
        if exercise is not None:
            if action == "stop":
                exercise.mark("stop")
            exercise.decide(self.lapp.user, f"{action} {target} requested (dry run): {reason}")
        self.record_stop(action, target, reason)

    @work(thread=True, group="writes", exit_on_error=False, description="Recording stop")
    def record_stop(self, action: str, target: str, reason: str) -> None:
        """Record the stop or lift (a dry-run decision in an exercise); answers StopRecorded."""
        assert self.trace is not None
        writer = self.lapp.writer()
        exercise = self.lapp.exercise
        if exercise is not None:
            writer.annotate(
                exercise.tenant, target_event_id=self.trace.first_event_id,
                target_run_id=self.run_id, kind="note", text=f"DRY RUN {action}: {reason}",
                tags=["exercise", "decision"],
            )  # fmt: skip
            self.post_message(StopRecorded(f"exercise: {action} recorded as a dry-run decision"))
            return
        from ledger.errors import LedgerError

        tenant = str(self.trace.docs[0].get("tenant", "default"))
        try:
            if action == "stop":
                data = (self.row.document().get("data") or {}) if self.row is not None else {}
                # caused_by only on a run stop: live_record_stop (sql/queries/stops.sql) takes
                # a missing target_run_id from caused_by's run, which a scope stop must not get
                at = None
                if target.startswith("run:"):
                    at = self.row.event_id if self.row is not None else self.trace.first_event_id
                done = writer.stop(tenant, target=target, reason=reason, caused_by=at,
                                   tool_call_id=data.get("tool_call_id"))  # fmt: skip
            else:
                done = writer.resume(tenant, target=target, reason=reason)
        except LedgerError as exc:  # not granted, no key, nothing to lift: nothing recorded
            self.post_message(StopRecorded(f"{action} refused: {exc}", refused=True))
            return
        kind = "run.stop.requested" if action == "stop" else "run.stop.lifted"
        text = f"{kind} recorded in the ledger ({done.authority}): {target}"
        self.post_message(StopRecorded(text + (f" · {done.note}" if done.note else "")))

    @on(StopRecorded)
    def _stop_recorded(self, message: StopRecorded) -> None:
        self.notify(message.text, severity="error" if message.refused else "information")
        self.query_one("#stop-hint", Static).update(literal(message.text))
        self.reload_after_stop()

    def reload_after_stop(self) -> None:
        """Re-read the trace and the stops (TraceStopUndoScreen starts its trace worker)."""
