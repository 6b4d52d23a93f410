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

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Input, Label, Static

from tui.widgets.exercise_banner import exercise_banner

__all__ = ["Form", "LedgerScreen", "PromptScreen", "principal_prompt"]


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

    async def on_key(self, event: events.Key) -> None:
        """Keys behind a screen key, in order (a fast typist's, or a paste of keystrokes).

        Textual sends a key to the widget focused when it is read and checks ordinary
        bindings only once it has bubbled back to the app, so the keys typed right behind `X`
        reach the app before `X` opens its prompt: they were lost, or fired bindings. So a
        printable key this screen binds (and no focused widget does) acts here, in order, and
        a printable key that arrives once this screen opened a prompt goes into the prompt.
        """
        if not (event.is_printable and event.character):
            return
        prompt = self.app.screen
        if prompt is not self:
            if isinstance(prompt, PromptScreen):
                prompt.take(event.character)
                event.stop()
                event.prevent_default()
            return
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            name = binding.action.split("(", 1)[0]
            if binding.priority or "." in name or _bound_below(self, event.key):
                return  # the app's, or a focused widget's key: Textual's usual order
            event.stop()
            event.prevent_default()
            if self.check_action(name, ()) is not False:  # --readonly: a write key does nothing
                await self.run_action(binding.action)
            return

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITE_ACTIONS and getattr(self.app, "readonly", False):
            return False
        return True


class Form(VerticalScroll):
    """A scrolling group of fields that keeps every key it is typed (module doc).

    `nav_keys`: screen keys that still act while a button or choice list of the form has focus
    (the tab keys of Trace / Stop / Undo, INCIDENT18 #3); in a text field they are text."""

    def __init__(self, *children: Widget, nav_keys: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init__(*children, **kwargs)
        self.nav_keys = frozenset(nav_keys)

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
        elif event.key in self.nav_keys and not isinstance(self.screen.focused, Input):
            return  # a screen key (switch tab) from a button or a choice list
        event.stop()
        event.prevent_default()


def _bound_below(screen: Screen[Any], key: str) -> bool:
    """True when the focused widget or one of its ancestors below `screen` binds `key`."""
    node = screen.focused
    while node is not None and node is not screen:
        if key in node._bindings.key_to_bindings:
            return True
        node = node.parent  # type: ignore[assignment]
    return False


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
        self.early = False  # characters typed before the field existed are in `value`
        self.refused: str | None = None  # set by refuse(): nothing confirms, escape closes

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            if self.expect is not None:
                what = f"type {self.expect} and press enter · escape cancels"
                yield Label(what, id="prompt-what")
            placeholder = self.placeholder or (self.expect or "")
            yield Input(
                value=self.value,
                placeholder=placeholder,
                id="prompt-input",
                select_on_focus=not self.early,  # what was typed early is kept, not selected
            )
            yield Static("", id="prompt-error")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def take(self, character: str) -> None:
        """Type one character into the field (keys that reached a screen before the field;
        before the field exists they extend the value it starts with, replacing the offer)."""
        try:
            field = self.query_one("#prompt-input", Input)
        except NoMatches:
            self.value = (self.value if self.early else "") + character
            self.early = True
            return
        if field.selection.start != field.selection.end:
            field.delete_selection()  # the offered default is selected: typing replaces it
        field.insert_text_at_cursor(character)

    def on_key(self, event: events.Key) -> None:
        """A printable key that reached the screen (the field not focused yet) goes into it."""
        field = self.query_one("#prompt-input", Input)
        if event.is_printable and event.character and self.focused is not field:
            field.focus()
            self.take(event.character)
            event.stop()
            event.prevent_default()
        elif event.key in ("tab", "shift+tab"):  # one field: focus stays in it
            field.focus()
            event.stop()
            event.prevent_default()

    def refuse(self, why: str) -> None:
        """The action asked about would certainly be refused: say why; no text confirms it.
        The prompt stays open (escape closes) so keys still being typed never reach a screen."""
        self.refused = why
        if not self.is_attached:  # already answered (a fast APPLY): apply itself refuses
            return
        self.query_one("#prompt-error", Static).update(f"{why} (escape closes)")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value
        if self.refused is not None:
            self.query_one("#prompt-error", Static).update(f"{self.refused} (escape closes)")
            return
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


def principal_prompt(question: str, user: str) -> PromptScreen:
    """Ask who acts for one decision (approving an undo, answering an inject), offering the
    session's user (`--as`) selected, so another person at the same console types their name
    instead of relaunching; the authority rules still judge whoever is named."""
    return PromptScreen(question, "principal", user, required=True)
