"""The tabletop exercise console: scenario, injects, clocks, answers, ratings, hot wash, AAR.

Why it seeds its own namespace: the scenario run (synthetic incident or a copy of a recorded run)
is written to tenant `exercise-<name>`, a separate log origin, so the team practises on the real
trace / stop / undo screens while nothing touches production runs. Stop and undo are dry runs
there. Why everything the facilitator does is an `exercise.*` event: reopening the exercise (a
crash, a second session, tomorrow's hot wash) resumes from the ledger — the clock continues from
the recorded start, answered milestones stay answered — and the after-action report is rebuilt
from that record (exporters.aar), never from this window's memory. A milestone's timer stops
when the facilitator marks it answered (`1` `2` `3`, with who answered), not when a panel opens.
Clocks are hidden in snapshot mode so screenshots are deterministic.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Static

from ledger.errors import InputError
from ledger.event_exercise import RATINGS
from ledger.exercises import ExerciseRecord
from tui.exercise import MILESTONES, Exercise, ExerciseError
from tui.messages import Notice
from tui.screens.common import LedgerScreen, PromptScreen

__all__ = ["ExerciseScreen", "aar_path", "write_report"]

_ANSWER_KEYS = {"1": "trace", "2": "stop", "3": "undo_plan"}


def aar_path(exercise: Exercise, home: Path) -> Path:
    """Where the after-action report goes: <home>/exercises/<name>/aar.md."""
    return home / "exercises" / exercise.name / "aar.md"


def write_report(app: Any) -> None:
    """Rebuild the AAR of the running exercise from the ledger and write it (a thread worker).

    From the record, so a reopened exercise regenerates everything recorded; an exercise with
    no record is refused (InputError), so a full report is never overwritten by an empty one.
    """
    exercise = app.exercise
    if exercise is None:
        app.notify("no exercise is running (ledger tui --exercise FILE)", severity="warning")
        return
    path = aar_path(exercise, app.settings.home)

    def run() -> None:
        from exporters.aar import write_aar

        try:
            app.data.call(write_aar, app.data.settings, exercise.name, path)
        except InputError as exc:  # nothing recorded: never an empty report over a full one
            app.post_message(Notice(str(exc), error=True))
        else:
            app.post_message(Notice(f"after-action report written to {path}"))

    app.run_worker(run, thread=True, group="writes", exit_on_error=False, description="AAR")


@dataclass
class RecordLoaded(Message):
    """The exercise's record as the ledger holds it (fresh: `started` None)."""

    record: ExerciseRecord


@dataclass
class ExerciseStarted(Message):
    """The scenario run is seeded and `exercise.started` recorded (or the record resumed)."""

    run_id: str | None


class ExerciseScreen(LedgerScreen):
    """Director's console for one exercise."""

    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset(
        {"inject", "decide", "answer", "rate", "discuss", "finding", "end"}
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Board", id="exercise.board"),
        Binding("t", "timeline", "Timeline", id="exercise.timeline"),
        Binding("s", "tsu", "Trace/Stop/Undo", id="exercise.tsu"),
        Binding("1", "answer('trace')", "Traced", id="exercise.answer_trace",
                tooltip="Mark time-to-trace answered (and by whom): its timer stops"),
        Binding("2", "answer('stop')", "Stopped", id="exercise.answer_stop",
                tooltip="Mark time-to-stop answered (and by whom): its timer stops"),
        Binding("3", "answer('undo_plan')", "Undo plan", id="exercise.answer_undo",
                tooltip="Mark time-to-undo-plan answered (and by whom): its timer stops"),
        Binding("i", "inject", "Next inject", id="exercise.inject",
                tooltip="Release the next manual inject"),
        Binding("r", "rate", "Rate", id="exercise.rate",
                tooltip="Rate an objective: N P|S|M|U [reason]"),
        Binding("n", "discuss", "Answer question", id="exercise.discuss",
                tooltip="Record the answer to discussion question N"),
        Binding("d", "decide", "Decision", id="exercise.decision"),
        Binding("f", "finding", "Hot wash", id="exercise.finding",
                tooltip="strength: … #N | gap: … #N | action: … @owner by YYYY-MM-DD #N"),
        Binding("e", "end", "End", id="exercise.end", tooltip="End the exercise (clock stops)"),
        Binding("w", "write_aar", "Write AAR", id="exercise.aar"),
    ]  # fmt: skip

    def __init__(self, exercise: Exercise) -> None:
        super().__init__()
        self.exercise = exercise
        self.feed: list[str] = []
        self._pending: deque[tuple[str, BaseModel, str]] = deque()
        self._queue_lock = threading.Lock()
        self._draining = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield VerticalScroll(Static("", id="exercise-brief"), id="exercise-left")
            yield VerticalScroll(Static("", id="exercise-live"), id="exercise-right")
        yield Footer()

    def on_mount(self) -> None:
        self.open_record()
        if not self.lapp.snapshot:
            self.set_interval(1.0, self._tick)
        self._tick()

    # ------------------------------------------------------------------ record in, record out
    @work(thread=True, exclusive=True, group="exercise", exit_on_error=False, description="Record")
    def open_record(self) -> None:
        """Read the exercise's record from the ledger; answers with RecordLoaded."""
        from ledger.exercises import load_record

        record = self.lapp.data.call(load_record, self.lapp.data.settings, self.exercise.name)
        self.post_message(RecordLoaded(record))

    @on(RecordLoaded)
    def _loaded(self, message: RecordLoaded) -> None:
        ex = self.exercise
        if message.record.started is not None:
            ex.resume(message.record)
            self.feed += [
                f"INJECT {i}: {ex.inject_text(i)} (T+{r.elapsed_ms / 1000:.0f}s)"
                for i, r in message.record.released.items()
            ]
            self.feed.append(f"resumed from the ledger ({message.record.events} events)")
            if message.record.started.file_sha256 != ex.file_sha256:
                changed = "the exercise file changed since the exercise started"
                self.notify(f"{changed}: the report keeps the recorded objectives and questions",
                            severity="warning")  # fmt: skip
            self.post_message(ExerciseStarted(ex.run_id))
        elif self.lapp.readonly:  # seeding writes the scenario run: not in auditor mode
            self.notify("read-only auditor mode: no scenario run is seeded", severity="warning")
        else:
            ex.start()
            self.seed_scenario(ex.now_iso())
        self._tick()

    @work(thread=True, exclusive=True, group="exercise", exit_on_error=False, description="Seeding")
    def seed_scenario(self, started_at: str) -> None:
        """Write the scenario run into the exercise namespace, then `exercise.started`."""
        import uuid

        from ledger.exercises_write import record_event
        from ledger.scenarios import incident_events, remint_run
        from ledger.store.read import run_events

        ex, writer = self.exercise, self.lapp.writer()
        recorded = ex.scenario.get("run")
        if recorded:
            stored = self.lapp.data.call(run_events, uuid.UUID(str(recorded)))
            events = remint_run([s.event for s in stored], ex.tenant, ex.name)
        else:
            events = incident_events(ex.tenant, name=ex.name)
        writer.seed(events)
        run_id = str(events[0].run_id)
        data = ex.started_data(self.lapp.user, run_id)
        self.lapp.data.call(record_event, writer.data.settings, ex.name, "exercise.started", data,
                            who=self.lapp.user, occurred_at=started_at)  # fmt: skip
        ex.record.fold("exercise.started", data, started_at)
        self.post_message(ExerciseStarted(run_id))

    @on(ExerciseStarted)
    def _started(self, message: ExerciseStarted) -> None:
        self.exercise.run_id = message.run_id
        self._tick()

    def _record(self, kind: str, data: BaseModel) -> None:
        """Queue what the facilitator just recorded (already folded in memory) for the ledger.

        One drain worker writes the queue in order: two quick ratings of one objective reach
        the ledger in the order given, so the record's "latest stands" is the facilitator's."""
        with self._queue_lock:
            self._pending.append((kind, data, self.exercise.now_iso()))
            start, self._draining = not self._draining, True
        if start:
            self.drain_writes()

    @work(thread=True, group="writes", exit_on_error=False, description="Recording")
    def drain_writes(self) -> None:
        """Write the queued `exercise.*` events, in order, through the write door."""
        from ledger.exercises_write import record_event

        try:
            writer = self.lapp.writer()
            while True:
                with self._queue_lock:
                    if not self._pending:
                        self._draining = False  # under the lock: a new entry starts a new drain
                        return
                    kind, data, occurred_at = self._pending.popleft()
                self.lapp.data.call(record_event, writer.data.settings, self.exercise.name, kind,
                                    data, who=self.lapp.user, occurred_at=occurred_at)  # fmt: skip
        except BaseException:  # the error is the worker's (notified); the next entry retries
            with self._queue_lock:
                self._draining = False
            raise

    # ------------------------------------------------------------------ display
    def _tick(self) -> None:
        ex = self.exercise
        if not self.lapp.readonly:
            for released in ex.due_injects():
                self._released(released.inject_id)
                self._record("exercise.inject_released", released)
        self.query_one("#exercise-brief", Static).update(self._brief())
        self.query_one("#exercise-live", Static).update(self._live())

    def _released(self, inject_id: str) -> None:
        text = self.exercise.inject_text(inject_id)
        self.feed.append(f"INJECT {inject_id}: {text}")
        if not self.lapp.snapshot:
            self.notify(text, title=f"Inject {inject_id}", timeout=8, markup=False)

    def _brief(self) -> Text:
        ex, record, brief = self.exercise, self.exercise.record, Text()
        brief.append("Objectives (r: rate N P|S|M|U)\n", style="bold")
        for n, objective in enumerate(ex.objectives):
            rated = record.ratings.get(n)
            brief.append(f"  {n + 1}. {objective}")
            brief.append(f"  [{rated.rating}: {RATINGS[rated.rating]}]\n" if rated else "\n",
                         style="green" if rated else "")  # fmt: skip
        brief.append("\nParticipants\n", style="bold")
        for r in ex.roles:
            brief.append(f"  {r.get('role', '?')}: {r.get('person', '?')}\n")
        brief.append("\nDiscussion questions (n: answer N …)\n", style="bold")
        for n, question in enumerate(ex.questions):
            brief.append(f"  {n + 1}. {question}\n")
            if (answer := record.discussion.get(n)) is not None:
                brief.append(f"     → {answer.answer}\n", style="cyan")
        return brief

    def _live(self) -> Text:
        ex, live, snap = self.exercise, Text(), self.lapp.snapshot
        clock = "—" if snap else f"T+{ex.elapsed():.0f}s"
        state = " · ENDED" if ex.record.ended else ""
        run = ex.run_id or "starting…"
        live.append(f"Clock {clock}{state} · scenario run {run}\n", style="bold")
        for m in MILESTONES:
            got, target = ex.record.answers.get(m), ex.targets.get(m)
            if got is None:
                shown = "running (not answered)" if snap else f"running, T+{ex.elapsed():.0f}s"
                style = "yellow"
            else:
                when = "" if snap else f" at {got.elapsed_ms / 1000:.0f}s"
                shown = f"answered{when} by {got.answered_by}"
                style = "green" if target is None or got.elapsed_ms <= target * 1000 else "red"
            live.append(f"  time-to-{m.replace('_', '-'):<10} {shown}", style=style)
            live.append(f"  (target {target:.0f}s)\n" if target else "\n", style="dim")
        live.append("\nInjects & decisions\n", style="bold")
        for line in self.feed[-20:]:
            live.append(f"  {line}\n")
        for _t, who, text in ex.decisions[-20:]:
            live.append(f"  DECISION {who}: {text}\n", style="cyan")
        for f in ex.record.findings:
            tied = "" if f.objective is None else f" (objective {f.objective + 1})"
            extra = f" @{f.owner}" if f.owner else ""
            live.append(f"  {f.kind.upper()}{tied}: {f.text}{extra} {f.due}\n", style="magenta")
        return live

    def on_screen_resume(self) -> None:
        self._tick()

    # ------------------------------------------------------------------ navigation
    def action_timeline(self) -> None:
        from tui.screens.timeline import TimelineScreen

        if self.exercise.run_id:
            self.app.push_screen(TimelineScreen(runs=[self.exercise.run_id]))

    def action_tsu(self) -> None:
        from tui.screens.tsu import TraceStopUndoScreen

        if self.exercise.run_id:
            self.app.push_screen(TraceStopUndoScreen(self.exercise.run_id))

    # ------------------------------------------------------------------ facilitator's record
    def _ask(self, question: str, placeholder: str, kind: str, build: Any, value: str = "") -> None:
        """A one-line form; `build(text)` makes the event data (ExerciseError: said, not kept)."""

        def done(text: str | None) -> None:
            if not text:
                return
            try:
                data = build(text)
            except (ExerciseError, ValueError) as exc:
                self.notify(str(exc).splitlines()[0], severity="error", markup=False)
                return
            self._record(kind, data)
            self._tick()

        self.app.push_screen(PromptScreen(question, placeholder, value), done)

    def action_answer(self, milestone: str) -> None:
        ex, user = self.exercise, self.lapp.user
        label = f"time-to-{milestone.replace('_', '-')}"
        if ex.record.answers.get(milestone) is not None:
            self.notify(f"{label} was already answered", severity="warning")
            return
        self._ask(f"{label} answered — by whom? (Enter: {user})", "name", "exercise.answered",
                  lambda who: ex.answer(milestone, who, user), value=user)  # fmt: skip

    def action_inject(self) -> None:
        released = self.exercise.release_next_manual(self.lapp.user)
        if released is None:
            self.feed.append("no manual injects left")
        else:
            self._released(released.inject_id)
            self._record("exercise.inject_released", released)
        self._tick()

    def action_rate(self) -> None:
        user = self.lapp.user
        self._ask("Rate objective: N P|S|M|U [reason]", "2 S stop took two people to find",
                  "exercise.rated", lambda line: self.exercise.rate(line, user))  # fmt: skip

    def action_discuss(self) -> None:
        user = self.lapp.user
        self._ask("Answer discussion question: N answer", "1 the email at seq 3 (signed chain)",
                  "exercise.discussed", lambda line: self.exercise.discuss(line, user))  # fmt: skip

    def action_finding(self) -> None:
        self._ask("Hot wash finding (#N: the objective it is about)",
                  "action: tighten refund rule @farid by 2026-12-15 #2", "exercise.finding",
                  lambda line: self.exercise.add_finding(line, self.lapp.user))  # fmt: skip

    def action_end(self) -> None:
        if self.exercise.record.ended is not None:
            self.notify("the exercise has already ended", severity="warning")
            return
        self._ask("Type END to end the exercise (its clock stops)", "END", "exercise.ended",
                  self._end)  # fmt: skip

    def _end(self, text: str) -> Any:
        if text.strip() != "END":
            raise ExerciseError("not ended: type END to confirm")
        return self.exercise.end(self.lapp.user)

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

    def action_write_aar(self) -> None:
        write_report(self.lapp)
