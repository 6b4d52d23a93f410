"""`?` help: every key of the screen underneath and of the app, with binding ids.

Why ids are shown: bindings carry `id=` so users can remap them (`App.set_keymap`), and the help
screen is where they learn the ids. Keys are shown as the footer shows them, through Textual's
own `App.get_key_display` (`?`, `#`, `.`, `^t`), never as binding names (`question_mark`).
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from tui.widgets.exercise_banner import exercise_banner

__all__ = ["HelpScreen"]


class HelpScreen(ModalScreen[None]):
    """Key bindings of the current screen, its focused widget, and the app."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 98%; height: 90%; border: thick $accent;
                                  background: $panel; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "app.pop_screen", "Close", id="help.close"),
    ]

    def __init__(self, under: Screen[object]) -> None:
        super().__init__()
        self.under = under

    def compose(self) -> ComposeResult:
        table = Table(title=f"Keys — {type(self.under).__name__}", expand=True)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("action")
        table.add_column("id", style="dim")
        seen: set[str] = set()
        display = self.app.get_key_display
        readonly = bool(getattr(self.app, "readonly", False))
        hidden: frozenset[str] = (
            getattr(self.under, "WRITE_ACTIONS", frozenset()) if readonly else frozenset()
        )
        sources: list[object] = [self.under]
        if self.under.focused is not None:
            sources.append(self.under.focused)
        sources.append(self.app)
        for source in sources:
            for binding in getattr(source, "BINDINGS", []):
                if not isinstance(binding, Binding) or binding.id in seen:
                    continue
                if binding.action.split("(")[0] in hidden:
                    continue
                seen.add(binding.id or binding.key)
                table.add_row(
                    " ".join(display(one) for one in Binding.make_bindings([binding])),
                    binding.tooltip or binding.description or binding.action,
                    binding.id or "",
                )
        yield from exercise_banner(self.app)  # issue 18 (tabletop): EXERCISE on every screen
        yield VerticalScroll(Static(table))
