"""Trace / Stop / Undo for one run (or one tool call of it): the seed question made concrete.

Trace: who initiated, versions in force, run chain and inclusion proof, who stopped it. Stop
(tui.screens.stoppanel): who may stop it, the stops in force, a scope and a typed confirmation
that records the stop (or its lift) through ledger.stops, as `ledger stop` does. Undo: the plan
from replay.undo with per-step badges, residue, windows and eligible approvers; dry run with
read-only probes. In an exercise both stop and undo are dry runs recorded as decisions in the
exercise namespace.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from rich.text import Text
from textual import events, on, work
from textual._time import get_time
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static, TabbedContent, TabPane

from tui.findings import failures_text
from tui.inspect import RunTrace
from tui.literal import literal, shown
from tui.messages import PlanReady, TraceLoaded, UndoNote
from tui.rows import Row
from tui.screens.common import PromptScreen, principal_prompt
from tui.screens.stoppanel import StopPanel
from tui.undorows import UNDO_COLUMNS, undo_rows

__all__ = ["TraceStopUndoScreen"]


class TraceStopUndoScreen(StopPanel):
    """Three tabs over one run."""

    DEFAULT_CSS = """
    #undo-steps { height: auto; max-height: 10; }
    #undo-more { height: 1fr; }
    #undo-detail { padding: 0 1; margin-bottom: 1; }
    """
    WRITE_ACTIONS = frozenset({"stop", "approve", "apply"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="tsu.back"),
        Binding("1", "tab('trace')", "Trace", id="tsu.trace"),
        Binding("2", "tab('stop')", "Stop", id="tsu.stop"),
        Binding("3", "tab('undo')", "Undo", id="tsu.undo"),
        Binding("P", "plan(False)", "Plan", id="tsu.plan", tooltip="Generate the undo plan"),
        Binding("y", "plan(True)", "Dry run", id="tsu.dryrun", tooltip="Plan + read-only probes"),
        Binding("A", "approve", "Approve", id="tsu.approve", tooltip="Sign the plan digest as you"),
        Binding("X", "apply", "Apply", id="tsu.apply", tooltip="Apply the approved plan (typed)"),
    ]

    def __init__(self, run_id: str, row: Row | None = None, tab: str = "trace") -> None:
        super().__init__()
        self.run_id, self.row, self.initial_tab = run_id, row, tab
        self.trace: RunTrace | None = None
        self.plan: Any = None
        self.undo_details: dict[str, Text] = {}
        self.route_until = 0.0  # keys read before this time go into the stop reason

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Trace / Stop / Undo[/] run {self.run_id}", id="tsu-title")
        with TabbedContent(initial=self.initial_tab, id="tsu-tabs"):
            with TabPane("Trace", id="trace"):
                yield VerticalScroll(Static("tracing…", id="trace-body"))
            with TabPane("Stop", id="stop"):
                yield from self.compose_stop()
            with TabPane("Undo", id="undo"):
                yield Static(
                    "P: generate the undo plan · y: dry run (read-only probes)", id="undo-note"
                )
                yield DataTable(id="undo-steps", cursor_type="row")
                with VerticalScroll(id="undo-more"):
                    yield Static("", id="undo-detail")
                    yield Static("", id="undo-residue")
        yield Footer()

    def on_mount(self) -> None:
        # verdict first and the wide facts in the detail pane below: every step's verdict is in
        # view at 80 columns with no horizontal scrolling (issue 18)
        self.query_one("#undo-steps", DataTable).add_columns(*UNDO_COLUMNS)
        self.load_trace()

    def action_tab(self, tab: str) -> None:
        """Switch tabs; the focus leaves the old pane first (INCIDENT18 #3): TabbedContent
        re-activates the pane holding the focus, so a focused Stop button or scope list kept
        the Stop tab open whatever `1` / `3` asked for."""
        tabs = self.query_one("#tsu-tabs", TabbedContent)
        self.set_focus(None)
        tabs.active = tab
        if tab == "undo":  # up/down walk the steps (an empty table takes the focus harmlessly)
            self.query_one("#undo-steps", DataTable).focus()
        if tab == "stop" and not self.lapp.readonly:  # the next key is the reason's
            self.route_until = math.inf
            self.query_one("#stop-reason", Input).focus()
            hint = "type the reason, then enter"
            if note := self.ended_note():  # said before the confirmation (INCIDENT18 #7)
                hint = f"{note} · {hint}"
            self.query_one("#stop-hint", Static).update(literal(hint))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if event.widget.id == "stop-reason" and self.route_until == math.inf:
            self.route_until = get_time()  # keys typed from now on reach the field itself

    async def on_key(self, event: events.Key) -> None:
        """Keys typed right after `2`, before the reason field took focus, are the reason's.

        Textual sends each key to the widget focused when the key is read and checks ordinary
        bindings only after it bubbled up, so a fast typist's keys behind `2` would otherwise
        be lost or fire bindings (`P` made an undo plan). So the screen's keys act when the
        screen sees them, in order (LedgerScreen.on_key), and a printable key read before the
        field had focus goes into it.
        """
        if not (event.is_printable and event.character) or self.app.screen is not self:
            return  # (keys behind one that opened a prompt: LedgerScreen hands them to it)
        if event.time <= self.route_until and self.query_one(TabbedContent).active == "stop":
            self.query_one("#stop-reason", Input).insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()  # (else LedgerScreen runs this screen's key, in order)

    # ------------------------------------------------------------------ trace
    @work(thread=True, exclusive=True, group="trace", exit_on_error=False, description="Tracing")
    def load_trace(self) -> None:
        from tui.findings import load_findings
        from tui.inspect import run_trace
        from tui.stopview import active_stops

        lapp = self.lapp  # who initiated: replay's verdict; who may stop: the registry's word
        trace = lapp.data.call(run_trace, self.run_id, lapp.trust_root, lapp.settings)
        if trace is not None:  # tuiboard: the rule failures `ledger check` reports
            trace.findings = load_findings(self.lapp.settings, [self.run_id], self.lapp.trust_root)
        self.post_message(TraceLoaded(trace, self.lapp.data.call(active_stops)))

    def reload_after_stop(self) -> None:
        self.load_trace()

    @on(TraceLoaded)
    def _show_trace(self, message: TraceLoaded) -> None:
        trace = self.trace = message.trace
        body = Text()
        if trace is None:
            body.append("run not found", style="bold red")
            self.query_one("#trace-body", Static).update(shown(body))
            return
        exercise = self.lapp.exercise
        if exercise is not None and exercise.run_id == self.run_id and exercise.mark("trace"):
            exercise.decide(self.lapp.user, "traced the run (trace panel opened)")
        body.append("initiated by          ", style="dim")
        body.append(f"{trace.initiated_by} (roles recorded by the writer, asserted: "
                    f"{', '.join(trace.roles) or '-'})\n")  # fmt: skip
        for line in trace.identity:  # `ledger replay`'s verdict, word for word
            body.append(f"{'':<22}")
            body.append_text(literal(line, style="green" if " VERIFIED " in line else "yellow"))
            body.append("\n")
        body.append("agent                 ", style="dim")
        body.append(
            f"{trace.agent}\n{'status':<22}{trace.status} · {trace.events} events · "
            f"{trace.origin}\n"
        )
        if (stopped := trace.stopped) is not None:  # recorded text: drawn literally
            body.append(f"{'':<22}")
            body.append_text(literal(stopped, style="bold magenta"))
            body.append("\n")
        for key in ("prompt_version", "model", "policy_hash", "tool_contract_digest"):
            body.append(f"{key:<22}", style="dim")
            body.append(f"{trace.versions.get(key, '-')}\n")
        body.append("run chain             ", style="dim")
        body.append(trace.chain_note + "\n", style="green" if trace.chain_ok else "bold red")
        body.append("last event            ", style="dim")
        body.append(
            trace.proof + "\n", style="green" if trace.proof.startswith("included") else "yellow"
        )
        body.append_text(failures_text(trace.findings, trace.run_id, trace.docs))  # tuiboard
        body.append("\ntool calls\n", style="bold")
        for tool in trace.tool_calls or ["none"]:
            body.append(f"  {tool}\n")
        self.query_one("#trace-body", Static).update(shown(body))
        self.show_stop_facts(trace, message.stops)

    # ------------------------------------------------------------------ undo
    def action_plan(self, dry: bool) -> None:
        if self.trace is None:
            return
        self.query_one("#undo-note", Static).update("planning…")
        self.action_tab("undo")
        self.make_plan(dry)

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False, description="Undo plan")
    def make_plan(self, dry: bool) -> None:
        from ledger.errors import LedgerError
        from tui.actions import undo_approvers, undo_eligible, undo_plan

        assert self.trace is not None
        now = "2026-11-24T00:00:00Z" if self.lapp.snapshot else None
        try:
            preview = undo_plan(self.lapp.data, [self.run_id], now, self.lapp.user, dry)
            approvers = undo_approvers(self.lapp.data, preview.plan)
            eligible = undo_eligible(self.lapp.data, preview.plan, self.lapp.trust_root)
        except LedgerError as exc:  # contracts, an unreachable target: one line with the fix
            self.post_message(UndoNote(Text(f"undo plan failed: {exc}", style="red")))
            return
        except Exception as exc:  # a bug: named, never a crash of the screen
            text = Text(f"undo plan failed: {type(exc).__name__}: {exc}", style="red")
            self.post_message(UndoNote(text))
            return
        note = preview.note
        if approvers:  # four eyes: what another terminal already approved, by digest
            note += f" · approved by {', '.join(approvers)} (pending apply)"
        self.post_message(PlanReady(preview.plan, preview.steps, note, eligible))

    @on(UndoNote)
    def _undo_note(self, message: UndoNote) -> None:
        self.query_one("#undo-note", Static).update(shown(message.text))
        if message.refused:  # four eyes, SoD and registry refusals: one line, also as a toast
            self.notify(message.text.plain, severity="error")

    @on(PlanReady)
    def _show_plan(self, message: PlanReady) -> None:
        assert self.trace is not None
        plan, note = message.plan, message.note
        self.plan = plan
        exercise = self.lapp.exercise
        if exercise is not None and exercise.mark("undo_plan"):
            exercise.decide(self.lapp.user, f"undo plan {plan.digest[:12]} produced ({note})")
        rows = undo_rows(plan, message.steps, message.eligible)
        self.undo_details = {r.step_id: r.detail for r in rows}
        table = self.query_one("#undo-steps", DataTable)
        table.clear()
        for r in rows:
            table.add_row(*r.cells, key=r.step_id)
        self._show_detail(rows[0].step_id if rows else None)
        table.focus()  # up/down walk the steps; the detail pane follows
        residue = Text()
        digest = "(digest hidden in snapshot mode)" if self.lapp.snapshot else plan.digest[:16]
        residue.append(f"plan {digest} · {plan.summary_text()}\n", style="dim")
        if plan.residue:
            residue.append("residue\n", style="bold")
        for item in plan.residue or ():
            residue.append_text(literal(f"  {item.step_id} {item.tool}: {item.residue}\n"))
            residue.append_text(literal(f"    runbook: {item.runbook}\n"))
        if exercise is None and not self.lapp.readonly:
            residue.append(
                "\nA: approve (as you, or as another registered approver: you are asked; "
                "separation of duties enforced) · X: apply (typed APPLY)\n",
                style="yellow",
            )
        if exercise is not None:
            residue.append("EXERCISE: undo is a dry run only.\n", style="bold magenta")
        self.query_one("#undo-note", Static).update(literal(f"{len(plan.steps)} step(s) · {note}"))
        self.query_one("#undo-residue", Static).update(shown(residue))

    @on(DataTable.RowHighlighted, "#undo-steps")
    def _step_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(event.row_key.value)

    def _show_detail(self, step_id: str | None) -> None:
        """The highlighted step in full, wrapped: verdict and why, window, who may approve."""
        detail = self.undo_details.get(step_id or "")
        self.query_one("#undo-detail", Static).update(shown(detail) if detail else "")

    # ------------------------------------------------------------------ approve / apply
    def _plan_ready(self) -> bool:
        if not self.lapp.writes_allowed():
            return False
        if self.lapp.exercise is not None:
            self.notify("exercise: undo is a dry run only", severity="warning")
            return False
        if self.plan is None:
            self.notify("generate the plan first (P or y)", severity="warning")
            return False
        return True

    def action_approve(self) -> None:
        """Ask who approves (default: the session's user), so a second person at this terminal
        approves as themselves without relaunching; the replay.undo approval rules (registered
        approver with an undo grant and key, separation of duties, four eyes at apply) judge it
        exactly as `ledger undo approve --as NAME`."""
        if not self._plan_ready():
            return

        def chosen(who: str | None) -> None:
            if who:
                self.query_one("#undo-note", Static).update(literal(f"approving as {who}…"))
                self.undo_write("approve", who)

        digest = "" if self.lapp.snapshot else f" {self.plan.digest[:16]}"
        question = f"Approve undo plan{digest} as (a registered approver; their key signs):"
        self.app.push_screen(principal_prompt(question, self.lapp.user), chosen)

    def action_apply(self) -> None:
        """Ask for the typed APPLY, and at once whether apply would be refused (four eyes, no
        approval, no registry): then the prompt says so and confirms nothing (INCIDENT18 #8).
        The prompt opens first so keys typed behind `X` go into it, never to the screen."""
        if not self._plan_ready():
            return

        def confirmed(text: str | None) -> None:
            if text == "APPLY":  # the prompt only dismisses with exactly APPLY, or None
                self.query_one("#undo-note", Static).update("applying… (steps run in order)")
                self.undo_write("apply", self.lapp.user)

        question = "Run the compensations (steps that succeeded before are not run again)"
        prompt = PromptScreen(question, expect="APPLY")
        self.app.push_screen(prompt, confirmed)
        self.check_apply(prompt)

    @work(thread=True, exclusive=True, group="undo-check", exit_on_error=False)
    def check_apply(self, prompt: PromptScreen) -> None:
        from tui.actions import undo_apply_refusal

        try:
            why = undo_apply_refusal(
                self.lapp.data, self.plan, self.lapp.user, self.lapp.trust_root
            )
        except Exception:  # cannot tell: apply itself judges when confirmed
            return
        if why is not None:
            text = Text(f"apply refused: {why}")
            self.app.call_from_thread(prompt.refuse, text.plain)
            self.post_message(UndoNote(text, refused=True))

    @work(thread=True, exclusive=True, group="undo-write", exit_on_error=False, description="Undo")
    def undo_write(self, what: str, who: str) -> None:
        from tui.actions import undo_apply, undo_approve

        try:
            root = self.lapp.trust_root
            if what == "approve":
                text = undo_approve(self.lapp.data, self.plan, who, root)
            else:
                text = undo_apply(self.lapp.data, self.plan, self.lapp.user, root)
        except Exception as exc:  # refusals (SoD, registry, not approved) are one-line errors
            self.post_message(UndoNote(Text(f"{what} refused: {exc}"), refused=True))
            return
        self.post_message(UndoNote(Text(text)))
