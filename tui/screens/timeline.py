"""The timeline of one run, several runs merged, or a whole log, with the inspector beside it.

Why sources: a whole log is paged by `seq` range (row index == seq), so opening a million-event
log costs one `max(seq)` query; runs, filters and pivots become an ordered key list built by one
query in a worker. Pages are fetched on demand as the EventLog asks for them.
Keys: `/` filter (`text`, `!text` inverse, `field:value`), pivots a/t/r/p/m (actor, tool,
resource, prompt version, model) on the row under the cursor, `g` jump to time, `[ ]` ±1 min,
`h H` ±1 hour, `d D` ±1 day, `end`/`G` last event, `b n #` bookmark/note/tag (ledger events).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Input, Static

from ledger import ids
from tui.data import PAGE, KeySource, OriginSource, Source
from tui.findings import FindingsLoaded, load_findings
from tui.literal import literal, shown
from tui.messages import DetailLoaded, JumpResolved, Notice, PageLoaded, SourceReady
from tui.rows import Row
from tui.screens.common import LedgerScreen, PromptScreen
from tui.widgets.event_log import EventLog
from tui.widgets.inspector import render_detail

if TYPE_CHECKING:
    from ledger.operator import AnnotationKind

__all__ = ["TimelineScreen"]

_FIELDS = ("agent", "user", "tool", "resource", "prompt", "model", "type")


class TimelineScreen(LedgerScreen):
    """Virtualised events plus inspector."""

    WRITE_ACTIONS = frozenset({"bookmark", "note", "tag", "decide"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="timeline.back", tooltip="Clear filter, then go back"),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="timeline.filter",
            tooltip="text, !text, tool:x, model:y…",
        ),
        Binding("a", "pivot('actor')", "Actor", id="timeline.pivot.actor"),
        Binding("t", "pivot('tool')", "Tool", id="timeline.pivot.tool"),
        Binding("r", "pivot('resource')", "Resource", show=False, id="timeline.pivot.resource"),
        Binding("p", "pivot('prompt')", "Prompt", show=False, id="timeline.pivot.prompt"),
        Binding("m", "pivot('model')", "Model", show=False, id="timeline.pivot.model"),
        Binding("g", "jump_time", "Jump to time", id="timeline.jump"),
        Binding(
            "left_square_bracket", "shift(-60)", "-1 min", show=False, id="timeline.minute.back"
        ),
        Binding(
            "right_square_bracket", "shift(60)", "+1 min", show=False, id="timeline.minute.fwd"
        ),
        Binding("h", "shift(-3600)", "-1 h", show=False, id="timeline.hour.back"),
        Binding("H", "shift(3600)", "+1 h", show=False, id="timeline.hour.fwd"),
        Binding("d", "shift(-86400)", "-1 day", show=False, id="timeline.day.back"),
        Binding("D", "shift(86400)", "+1 day", show=False, id="timeline.day.fwd"),
        Binding("i", "toggle_inspector", "Inspector", id="timeline.inspector"),
        Binding("b", "bookmark", "Bookmark", id="timeline.bookmark"),
        Binding("n", "note", "Note", id="timeline.note"),
        Binding("number_sign", "tag", "Tag", show=False, id="timeline.tag"),
        Binding("S", "tsu", "Trace/Stop/Undo", id="timeline.tsu"),
        Binding("y", "decide('approved')", "Approve", show=False, id="timeline.approve",
                tooltip="Sign an approval of the approval request under the cursor"),
        Binding("x", "decide('rejected')", "Reject", show=False, id="timeline.reject",
                tooltip="Sign a rejection of the approval request under the cursor"),
        Binding("R", "replay", "Replay", show=False, id="timeline.replay"),
    ]

    def __init__(self, *, runs: list[str] | None = None, origin: str | None = None) -> None:
        super().__init__()
        self.runs = runs or []
        self.origin = origin or ""
        self.source: Source | None = None
        self.scope_note = ""
        self.stop_note = Text()
        self.cursor_row: Row | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="tl-title")
        yield Static("", id="tl-header")
        with Horizontal(id="tl-body"):
            yield EventLog(id="log", mask_record_time=bool(self.lapp.snapshot))
            with VerticalScroll(id="inspector"):
                yield Static("select an event", id="inspector-body")
        yield Input(
            placeholder="/ text · !text · tool:email.send · model:gpt-4o · type:approval.decided",
            id="tl-filter",
            classes="hidden",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(EventLog).focus()
        self.build_source("none", "")

    def on_resize(self) -> None:
        log = self.query_one(EventLog)
        self.query_one("#tl-header", Static).update(log.header(max(log.size.width, 1)))

    # ------------------------------------------------------------------ sources
    @work(thread=True, exclusive=True, group="timeline-source", exit_on_error=False,
          description="Building the timeline")  # fmt: skip
    def build_source(self, cond: str, value: str) -> None:
        data = self.lapp.data
        source: Source
        if not self.runs and cond == "none":
            source = OriginSource(self.origin, data.origin_size(self.origin), title=self.origin)
        else:
            keys, truncated = data.keys(self.runs, self.origin, cond, value)
            scope = f"{len(self.runs)} run(s)" if self.runs else self.origin
            source = KeySource(keys, title=scope, truncated=truncated)
        note = "" if cond == "none" else f"{cond}={value!r}"
        stop = Text()
        if len(self.runs) == 1:  # `ledger tui --run`: is it stopped, is a stop in force on it
            from tui.stopview import run_stop_note

            stop = data.call(run_stop_note, self.runs[0], hide_time=bool(self.lapp.snapshot))
        self.post_message(SourceReady(source, note, stop))

    @on(SourceReady)
    def _set_source(self, message: SourceReady) -> None:
        source = self.source = message.source
        self.scope_note = message.note
        self.stop_note = message.halt
        log = self.query_one(EventLog)
        log.reset(source.count())
        self.on_resize()
        self._title()
        if self.runs:  # badges on the events `ledger check`'s failures cite
            self.load_rule_findings(list(self.runs))

    @work(thread=True, exclusive=True, group="findings", exit_on_error=False,
          description="Checking rules")  # fmt: skip
    def load_rule_findings(self, runs: list[str]) -> None:
        lapp = self.lapp
        self.post_message(FindingsLoaded(load_findings(lapp.settings, runs, lapp.trust_root)))

    @on(FindingsLoaded)
    def _findings_loaded(self, message: FindingsLoaded) -> None:
        if message.findings.error:
            self.notify(message.findings.error, severity="error", markup=False)
        self.query_one(EventLog).set_findings(message.findings.cited())

    def _title(self) -> None:
        if self.source is None:
            return
        what = ("run " + self.runs[0]) if len(self.runs) == 1 else self.source.title
        extra = f" │ {self.scope_note}" if self.scope_note else ""
        if isinstance(self.source, KeySource) and self.source.truncated:
            extra += " │ first 500,000 matches"
        mode = " │ READ-ONLY" if self.lapp.readonly else ""
        self.query_one("#tl-title", Static).update(  # a pivot's note quotes a writer's name
            Text.assemble(
                ("Timeline", "bold"),
                literal(f" {what} │ {self.source.count():,} events{extra}{mode}"),
                *((" │ ", self.stop_note) if self.stop_note.plain else ()),
            )
        )

    def ledger_appended(self, origin: str, size: int) -> None:
        """Live tail: grow a whole-log source; rebuild a run or filtered source."""
        if (
            isinstance(self.source, OriginSource)
            and origin == self.source.origin
            and not self.scope_note
        ):
            self.source.size = size
            self.query_one(EventLog).grow(size)
            self._title()
        elif self.runs and not self.scope_note:
            self.build_source("none", "")

    @on(EventLog.PageWanted)
    def _page_wanted(self, message: EventLog.PageWanted) -> None:
        self.load_page(message.page)

    @work(thread=True, group="pages", exit_on_error=False, description="Fetching a page")
    def load_page(self, page: int) -> None:
        source = self.source
        if source is None:
            return
        rows = self.lapp.data.fetch(source, page * PAGE, PAGE)
        self.post_message(PageLoaded(source, page, rows))

    @on(PageLoaded)
    def _page_loaded(self, message: PageLoaded) -> None:
        if message.source is self.source:
            self.query_one(EventLog).add_page(message.page, message.rows)

    # ------------------------------------------------------------------ inspector
    @on(EventLog.Highlighted)
    def _highlighted(self, message: EventLog.Highlighted) -> None:
        self.cursor_row = message.row
        if message.row is not None and self.query_one("#inspector").display:
            self.load_detail(message.row.origin, message.row.seq)

    @work(
        thread=True,
        exclusive=True,
        group="inspector",
        exit_on_error=False,
        description="Inspecting an event",
    )
    def load_detail(self, origin: str, seq: int) -> None:
        from textual.worker import get_current_worker

        from tui.inspect import event_detail

        row = self.cursor_row
        if (
            get_current_worker().is_cancelled
            or row is None
            or (row.origin, row.seq) != (origin, seq)
        ):
            return  # the cursor moved on while this worker waited for the connection
        self.post_message(DetailLoaded(self.lapp.data.call(event_detail, origin, seq)))

    @on(DetailLoaded)
    def _show_detail(self, message: DetailLoaded) -> None:
        self.query_one("#inspector-body", Static).update(shown(render_detail(message.detail)))

    def action_toggle_inspector(self) -> None:
        pane = self.query_one("#inspector")
        pane.display = not pane.display

    # ------------------------------------------------------------------ filter, pivots, time
    def action_filter(self) -> None:
        box = self.query_one("#tl-filter", Input)
        box.remove_class("hidden")
        box.focus()

    @on(Input.Submitted, "#tl-filter")
    def _filter(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.query_one(EventLog).focus()
        event.input.add_class("hidden")
        self.apply_filter(text)

    def apply_filter(self, text: str) -> None:
        """`text`, `!text`, or `field:value` (agent user tool resource prompt model type)."""
        key, sep, value = text.partition(":")
        if not text:
            self.build_source("none", "")
        elif sep and key in _FIELDS and value:
            self.build_source(key, value)
        elif text.startswith("!"):
            self.build_source("not_text", text[1:])
        else:
            self.build_source("text", text)

    def action_pivot(self, key: str) -> None:
        row = self.cursor_row
        if row is None:
            return
        value = row.pivot_value(key)
        if key == "actor":
            kind, _, name = value.partition(":")
            if kind in ("agent", "user") and name:
                self.build_source(kind, name)
            return
        if key == "resource":
            value = value.split(",")[0]
        if value:
            self.build_source(key, value)
        else:
            self.notify(f"this event has no {key}", severity="warning")

    def action_back(self) -> None:
        box = self.query_one("#tl-filter", Input)
        if not box.has_class("hidden"):
            box.add_class("hidden")
            self.query_one(EventLog).focus()
        elif self.scope_note:
            self.build_source("none", "")
        else:
            self.app.pop_screen()

    def action_jump_time(self) -> None:
        def done(text: str | None) -> None:
            if text:
                try:
                    self.jump_to(ids.parse_timestamp(text.strip()))
                except ValueError:
                    self.notify(f"not an RFC 3339 time: {text}", severity="error")

        self.app.push_screen(
            PromptScreen("Jump to time (RFC 3339, UTC)", "2026-11-24T11:00:00Z"), done
        )

    def action_shift(self, seconds: int) -> None:
        if self.cursor_row is not None:
            self.jump_to(ids.parse_timestamp(self.cursor_row.occurred_at) + seconds * 1_000_000_000)

    @work(thread=True, exclusive=True, group="jump", exit_on_error=False, description="Jumping")
    def jump_to(self, ns: int) -> None:
        """Move the cursor to the first event at or after `ns`."""
        if self.source is None:
            return
        self.post_message(JumpResolved(self.lapp.data.index_at_time(self.source, ns)))

    @on(JumpResolved)
    def _jumped(self, message: JumpResolved) -> None:
        self.query_one(EventLog).move_to(message.index)

    # ------------------------------------------------------------------ annotations
    def _annotate(self, kind: AnnotationKind, text: str, tags: list[str]) -> None:
        row = self.cursor_row
        if row is None or not self.lapp.writes_allowed():
            return
        tenant = self.lapp.tenant_for(str(row.document().get("tenant", "default")))
        self.write_annotation(tenant, row.event_id, row.run_id, kind, text, tags)

    @work(thread=True, group="writes", exit_on_error=False, description="Recording annotation")
    def write_annotation(  # noqa: PLR0917 - a worker's arguments are positional
        self,
        tenant: str,
        event_id: str,
        run_id: str,
        kind: AnnotationKind,
        text: str,
        tags: list[str],
    ) -> None:
        """Record the annotation as a ledger event; answers with a Notice."""
        self.lapp.writer().annotate(
            tenant,
            target_event_id=event_id,
            target_run_id=run_id,
            kind=kind,
            text=text,
            tags=tags,
        )
        self.post_message(Notice(f"{kind} recorded in the ledger ({tenant})"))

    def action_bookmark(self) -> None:
        self._annotate("bookmark", "bookmarked", [])

    def action_note(self) -> None:
        self.app.push_screen(
            PromptScreen("Note on this event"),
            lambda text: self._annotate("note", text, []) if text else None,
        )

    def action_tag(self) -> None:
        self.app.push_screen(
            PromptScreen("Tags (space separated)"),
            lambda text: self._annotate("tag", text, text.split()) if text else None,
        )

    # ------------------------------------------------------------------ approvals
    def action_decide(self, decision: str) -> None:
        """Approve (y) or reject (x) the approval.requested under the cursor, signed."""
        row = self.cursor_row
        if row is None or not self.lapp.writes_allowed():
            return
        if row.type != "approval.requested":
            self.notify("not an approval request: move to an approval.requested event",
                        severity="warning")
            return
        doc = row.document()
        tenant = self.lapp.tenant_for(str(doc.get("tenant", "default")))
        self.write_decision(tenant, str(doc["data"]["approval_id"]), decision)

    @work(thread=True, group="writes", exit_on_error=False, description="Signing a decision")
    def write_decision(self, tenant: str, approval_id: str, decision: str) -> None:
        """Sign and record the decision; a refusal is a one-line notification, nothing recorded."""
        from ledger.errors import LedgerError
        from tui.writer import record_decision

        try:
            done = record_decision(self.lapp.writer(), tenant, approval_id=approval_id,
                                   decision=decision, root=self.lapp.trust_root)
        except LedgerError as exc:
            self.post_message(Notice(f"{approval_id}: {exc}", error=True))
            return
        self.post_message(Notice(f"{done.claim.decision}: {approval_id} signed by "
                                 f"{done.claim.approver} ({done.signed.signing_key})"))

    def action_tsu(self) -> None:
        from tui.screens.tsu import TraceStopUndoScreen

        if self.cursor_row is not None:
            self.app.push_screen(TraceStopUndoScreen(self.cursor_row.run_id, self.cursor_row))

    def action_replay(self) -> None:
        from tui.screens.replay import ReplayScreen

        if self.cursor_row is not None:
            self.app.push_screen(ReplayScreen(self.cursor_row.run_id))
