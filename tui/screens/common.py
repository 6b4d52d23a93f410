"""Shared screen plumbing: read-only gating of write actions, forms, and a one-line prompt.

Why `check_action`: Textual hides a binding from the footer (and refuses the action) when
`check_action` returns False, so `--readonly` removes every write key from sight, not just its
effect (k9s's read-only mode).

Why `Form`: a key typed into a form must never reach a screen binding. Textual checks the
non-priority bindings after a key bubbles up from the focused widget unhandled, so a key typed
while a radio button or a button of the form has focus (Tab put it there) would otherwise fire
the screen's `P` (undo plan) or the app's `q`. A Form keeps Tab / Shift+Tab among its own
fields, swallows printable keys no widget of the form binds, and turns Escape into "cancel
the form" (the next Escape is the screen's Back).
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Label, Static

__all__ = ["Form", "LedgerScreen", "PromptScreen"]


class LedgerScreen(Screen[None]):
    """A screen whose WRITE_ACTIONS disappear in --readonly mode."""

    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset()
    stale = False

    @property
    def lapp(self) -> Any:
        """The LedgerApp (typed loosely to keep screens importable on their own)."""
        return self.app

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and getattr(self.app, "readonly", False):
            return False
        return True


class Form(VerticalScroll):
    """A scrolling group of fields that keeps every key it is typed (module doc)."""

    class Cancelled(Message):
        """Escape inside the form: the owner clears what must not linger (a confirmation)."""

        def __init__(self, form: Form) -> None:
            super().__init__()
            self.form = form

        @property
        def control(self) -> Form:
            return self.form

    def fields(self) -> list[Widget]:
        """The form's focusable widgets, in the screen's focus order."""
        return [w for w in self.screen.focus_chain if self in w.ancestors]

    def move(self, step: int) -> None:
        """Focus the next (or previous) field of the form, wrapping around inside it."""
        fields = self.fields()
        if not fields:
            return
        here = self.screen.focused
        start = -1 if step > 0 else 0  # from outside: the first field, or the last backwards
        i = fields.index(here) if here in fields else start
        fields[(i + step) % len(fields)].focus()

    def _bound_inside(self, key: str) -> bool:
        """True when the focused widget or one of its ancestors inside the form binds `key`."""
        node = self.screen.focused
        while node is not None and node is not self:
            if key in node._bindings.key_to_bindings:
                return True
            node = node.parent  # type: ignore[assignment]
        return False

    def on_key(self, event: events.Key) -> None:
        if event.key in ("tab", "shift+tab"):
            self.move(1 if event.key == "tab" else -1)
        elif event.key == "escape":
            self.screen.set_focus(None)
            self.post_message(self.Cancelled(self))
        elif not (event.is_printable and not self._bound_inside(event.key)):
            return  # navigation and keys the form's own widgets bind (space, enter)
        event.stop()
        event.prevent_default()


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with the text, or None on escape.

    `expect`: the exact text that confirms (shown as what to type); Enter with anything else
    says so and stays open. `required`: Enter on an empty line stays open. No key is lost: a
    printable key that arrives before the field has focus goes into the field.
    """

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
                              background: $panel; padding: 1 2; }
    PromptScreen #prompt-error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="prompt.cancel"),
    ]

    def __init__(
        self,
        question: str,
        placeholder: str = "",
        value: str = "",
        *,
        expect: str | None = None,
        required: bool = False,
    ) -> None:
        super().__init__()
        self.question, self.placeholder, self.value = question, placeholder, value
        self.expect, self.required = expect, required

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            if self.expect is not None:
                what = f"type {self.expect} and press enter · escape cancels"
                yield Label(what, id="prompt-what")
            placeholder = self.placeholder or (self.expect or "")
            yield Input(value=self.value, placeholder=placeholder, id="prompt-input")
            yield Static("", id="prompt-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_key(self, event: events.Key) -> None:
        """A printable key that reached the screen (the field not focused yet) goes into it."""
        field = self.query_one("#prompt-input", Input)
        if event.is_printable and event.character and self.focused is not field:
            field.focus()
            field.insert_text_at_cursor(event.character)
            event.stop()
            event.prevent_default()
        elif event.key in ("tab", "shift+tab"):  # one field: focus stays in it
            field.focus()
            event.stop()
            event.prevent_default()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if self.expect is not None and text.strip() != self.expect:
            self.query_one("#prompt-error", Static).update(
                f"not confirmed: type {self.expect} exactly (escape cancels)"
            )
            return
        if self.required and not text.strip():
            error = "required: type a value (escape cancels)"
            self.query_one("#prompt-error", Static).update(error)
            return
        self.dismiss(text.strip() if self.expect is not None else text)

    def action_cancel(self) -> None:
        self.dismiss(None)
