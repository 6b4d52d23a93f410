"""Evidence export: choose period, tenant and controls, then call exporters.bundle.

Why a thin screen: the exporter owns the bundle format and records `export.created` itself;
the TUI only collects parameters, runs it in a worker with live progress, and shows the result.
Hidden in --readonly mode because an export writes a ledger event.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, Footer, Input, Label, ProgressBar, Static

from tui.messages import ExportFinished, ExportProgress
from tui.screens.common import LedgerScreen

__all__ = ["ExportScreen"]


class ExportScreen(LedgerScreen):
    """Parameters, progress and result of `ledger export`."""

    WRITE_ACTIONS = frozenset({"export"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="export.back"),
        Binding("ctrl+e", "export", "Export", id="export.run", priority=True),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="export-form"):
            yield Static("[b]Evidence export[/] (SOC 2 bundle, offline-verifiable)")
            yield Label("since (RFC 3339, inclusive)")
            yield Input(value="2026-01-01T00:00:00Z", id="export-since")
            yield Label("until (exclusive)")
            yield Input(value="2027-01-01T00:00:00Z", id="export-until")
            yield Label("tenant")
            yield Input(value="default", id="export-tenant")
            yield Label("controls (comma separated, empty = all)")
            yield Input(value="", id="export-controls")
            yield Label("output directory (new or empty)")
            yield Input(value=str(Path.cwd() / "evidence"), id="export-out")
            if not self.lapp.readonly:
                yield Button("Export (ctrl+e)", id="export-button", variant="primary")
            yield ProgressBar(id="export-progress", show_eta=False)
            yield Static("", id="export-result")
        yield Footer()

    @on(Button.Pressed, "#export-button")
    def action_export(self) -> None:
        if not self.lapp.writes_allowed():
            return
        values = {
            k: self.query_one(f"#export-{k}", Input).value.strip()
            for k in ("since", "until", "tenant", "controls", "out")
        }
        self.run_export(values)

    @work(thread=True, exclusive=True, group="export", exit_on_error=False, description="Exporting")
    def run_export(self, values: dict[str, str]) -> None:
        """Export the bundle; answers with ExportProgress while it runs, then ExportFinished."""
        try:
            from exporters.bundle import ExportParams, export_bundle
        except ImportError as exc:
            text = Text(f"exporter not available yet: {exc}", style="yellow")
            self.post_message(ExportFinished(text))
            return
        from ledger.db.connect import read_connection

        def progress(done: int, total: int) -> None:
            self.post_message(ExportProgress(done, total))

        params = ExportParams(
            since=values["since"],
            until=values["until"],
            out=Path(values["out"]),
            tenant=values["tenant"] or None,
            controls=tuple(c.strip() for c in values["controls"].split(",") if c.strip()),
            exported_by=self.lapp.user,
        )
        try:
            with read_connection(self.lapp.settings) as conn:  # custody: on the primary
                result = export_bundle(conn, self.lapp.settings, params, progress=progress)
        except Exception as exc:  # shown to the user; the exporter raises one-line errors
            self.post_message(ExportFinished(Text(f"export failed: {exc}", style="bold red")))
            return
        text = Text(
            f"wrote {result.out}: {result.events} events "
            f"(log {result.start_size}..{result.end_size})\n"
            f"manifest sha256 {result.manifest_sha256}\npopulations {result.populations}\n"
            f"export event {result.export_event_id}",
            style="green",
        )
        self.post_message(ExportFinished(text))

    @on(ExportProgress)
    def _progress(self, message: ExportProgress) -> None:
        bar = self.query_one("#export-progress", ProgressBar)
        bar.update(total=max(message.total, 1), progress=message.done)

    @on(ExportFinished)
    def _result(self, message: ExportFinished) -> None:
        self.query_one("#export-result", Static).update(message.text)
