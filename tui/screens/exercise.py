"""The tabletop exercise console: scenario, injects, clocks, decisions, hot wash, AAR export.

Why it seeds its own namespace: the scenario run (synthetic incident or a copy of a recorded run)
is written to tenant `exercise-<name>`, a separate log origin, so the team practises on the real
trace / stop / undo screens while nothing touches production runs. Stop and undo are dry runs
there. Clocks are hidden in snapshot mode so screenshots are deterministic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Static

from tui.exercise import MILESTONES, Exercise, ExerciseError
from tui.messages import Notice, ScenarioSeeded
from tui.screens.common import LedgerScreen, PromptScreen

__all__ = ["ExerciseScreen", "aar_path"]


def aar_path(exercise: Exercise, home: Path) -> Path:
    """Where the after-action report goes: <home>/exercises/<name>/aar.md."""
    return home / "exercises" / exercise.name / "aar.md"


class ExerciseScreen(LedgerScreen):
    """Director's console for one exercise."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Board", id="exercise.board"),
        Binding("t", "timeline", "Timeline", id="exercise.timeline"),
        Binding("s", "tsu", "Trace/Stop/Undo", id="exercise.tsu"),
        Binding(
            "i",
            "inject",
            "Next inject",
            id="exercise.inject",
            tooltip="Release the next manual inject",
        ),
        Binding("d", "decide", "Decision", id="exercise.decision"),
        Binding(
            "f",
            "finding",
            "Hot wash",
            id="exercise.finding",
            tooltip="strength: … | gap: … | action: … @owner by YYYY-MM-DD",
        ),
        Binding("w", "write_aar", "Write AAR", id="exercise.aar"),
    ]

    def __init__(self, exercise: Exercise) -> None:
        super().__init__()
        self.exercise = exercise
        self.feed: list[str] = []

    def compose(self) -> ComposeResult:
        yield Static(
            Text(
                f" EXERCISE · {self.exercise.title} · namespace {self.exercise.tenant} · "
                "not production ",
                style="bold white on dark_magenta",
            ),
            id="exercise-banner",
        )
        with Horizontal():
            yield VerticalScroll(Static("", id="exercise-brief"), id="exercise-left")
            yield VerticalScroll(Static("", id="exercise-live"), id="exercise-right")
        yield Footer()

    def on_mount(self) -> None:
        self.exercise.start()
        if self.lapp.readonly:  # seeding writes the scenario run: not in auditor mode
            self.notify("read-only auditor mode: no scenario run is seeded", severity="warning")
        else:
            self.seed_scenario()
        if not self.lapp.snapshot:
            self.set_interval(1.0, self._tick)
        self._tick()

    @work(thread=True, exclusive=True, group="exercise", exit_on_error=False, description="Seeding")
    def seed_scenario(self) -> None:
        """Write the scenario run into the exercise namespace; answers with ScenarioSeeded."""
        import uuid

        from ledger.scenarios import incident_events, remint_run
        from ledger.store.read import run_events

        ex = self.exercise
        recorded = ex.scenario.get("run")
        if recorded:
            stored = self.lapp.data.call(run_events, uuid.UUID(str(recorded)))
            events = remint_run([s.event for s in stored], ex.tenant, ex.name)
        else:
            events = incident_events(ex.tenant, name=ex.name)
        self.lapp.writer().seed(events)
        self.post_message(ScenarioSeeded(str(events[0].run_id)))

    @on(ScenarioSeeded)
    def _seeded(self, message: ScenarioSeeded) -> None:
        self.exercise.run_id = message.run_id
        self._tick()

    def _tick(self) -> None:
        ex = self.exercise
        for inject in ex.due_injects():
            self.feed.append(f"INJECT {inject.id}: {inject.text}")
            if not self.lapp.snapshot:
                self.notify(inject.text, title=f"Inject {inject.id}", timeout=8)
        brief = Text()
        brief.append("Objectives\n", style="bold")
        for o in ex.objectives:
            brief.append(f"  • {o}\n")
        brief.append("\nRoles\n", style="bold")
        for r in ex.roles:
            brief.append(f"  {r.get('role', '?')}: {r.get('person', '?')}\n")
        brief.append("\nDiscussion questions\n", style="bold")
        for q in ex.questions:
            brief.append(f"  ? {q}\n")
        self.query_one("#exercise-brief", Static).update(brief)
        live = Text()
        clock = "—" if self.lapp.snapshot else f"T+{ex.elapsed():.0f}s"
        live.append(f"Clock {clock} · scenario run {ex.run_id or 'seeding…'}\n", style="bold")
        for m in MILESTONES:
            got = ex.marks.get(m)
            target = ex.targets.get(m)
            shown = (
                "not yet" if got is None else ("reached" if self.lapp.snapshot else f"{got:.0f}s")
            )
            style = "green" if got is not None and (target is None or got <= target) else "yellow"
            live.append(f"  time-to-{m.replace('_', '-'):<10} {shown}", style=style)
            live.append(f"  (target {target:.0f}s)\n" if target else "\n", style="dim")
        live.append("\nInjects & decisions\n", style="bold")
        for line in self.feed[-20:]:
            live.append(f"  {line}\n")
        for _t, who, text in ex.decisions[-20:]:
            live.append(f"  DECISION {who}: {text}\n", style="cyan")
        for f in ex.findings:
            live.append(
                f"  {f.kind.upper()}: {f.text} {('@' + f.owner) if f.owner else ''} {f.due}\n",
                style="magenta",
            )
        self.query_one("#exercise-live", Static).update(live)

    def on_screen_resume(self) -> None:
        self._tick()

    def action_timeline(self) -> None:
        from tui.screens.timeline import TimelineScreen

        if self.exercise.run_id:
            self.app.push_screen(TimelineScreen(runs=[self.exercise.run_id]))

    def action_tsu(self) -> None:
        from tui.screens.tsu import TraceStopUndoScreen

        if self.exercise.run_id:
            self.app.push_screen(TraceStopUndoScreen(self.exercise.run_id))

    def action_inject(self) -> None:
        inject = self.exercise.release_next_manual()
        self.feed.append(
            f"INJECT {inject.id}: {inject.text}" if inject else "no manual injects left"
        )
        self._tick()

    def action_decide(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.exercise.decide(self.lapp.user, text)
                self.log_decision(text)
                self._tick()

        self.app.push_screen(PromptScreen("Decision (logged in the exercise ledger)"), done)

    @work(thread=True, group="writes", exit_on_error=False, description="Logging decision")
    def log_decision(self, text: str) -> None:
        """Record the decision as a note in the exercise namespace; answers with a Notice."""
        tenant = self.exercise.tenant
        self.lapp.writer().annotate(
            tenant,
            target_event_id=None,
            target_run_id=self.exercise.run_id,
            kind="note",
            text=f"DECISION: {text}",
            tags=["exercise", "decision"],
        )
        self.post_message(Notice(f"decision recorded in the ledger ({tenant})"))

    def action_finding(self) -> None:
        def done(text: str | None) -> None:
            if text:
                try:
                    self.exercise.add_finding(text)
                except ExerciseError as exc:
                    self.notify(str(exc), severity="error")
                self._tick()

        self.app.push_screen(
            PromptScreen("Hot wash finding", "action: tighten refund rule @farid by 2026-12-15"),
            done,
        )

    def action_write_aar(self) -> None:
        path = aar_path(self.exercise, self.lapp.settings.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        today = "2026-11-24" if self.lapp.snapshot else datetime.now(UTC).date().isoformat()
        path.write_text(self.exercise.report(today), encoding="utf-8")
        self.feed.append(f"AAR written to {path}")
        self.notify(f"after-action report written to {path}")
        self._tick()
