"""Shared screen plumbing: read-only gating of write actions, and a one-line prompt modal.

Why `check_action`: Textual hides a binding from the footer (and refuses the action) when
`check_action` returns False, so `--readonly` removes every write key from sight, not just its
effect (k9s's read-only mode).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label

from tui.widgets.exercise_banner import exercise_banner

__all__ = ["LedgerScreen", "PromptScreen"]


class LedgerScreen(Screen[None]):
    """A screen whose WRITE_ACTIONS disappear in --readonly mode."""

    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    stale = False

    @property
    def lapp(self) -> Any:
        """The LedgerApp (typed loosely to keep screens importable on their own)."""
        return self.app

    @on(events.Mount)
    def _exercise_banner(self) -> None:
        """The EXERCISE banner on every screen of an exercise (tui.widgets.exercise_banner)."""
        if banner := exercise_banner(self.app):
            self.mount_all(banner, before=0 if self.children else None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and getattr(self.app, "readonly", False):
            return False
        return True


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with the text, or None on escape."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
                              background: $panel; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(self, question: str, placeholder: str = "", value: str = "") -> None:
        super().__init__()
        self.question, self.placeholder, self.value = question, placeholder, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)
