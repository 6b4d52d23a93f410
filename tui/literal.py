"""`literal`: recorded text as a Rich `Text` that is drawn exactly as written.

Why: agent names, users, tool names and reasons are chosen by the writer, who may be hostile. A
plain str handed to a DataTable cell, a Static or a toast is parsed as markup: `[red]x[/red]`
would be styled (a forged badge) and an unbalanced `[/red]` raises MarkupError and closes the TUI.
A `Text` is never parsed; `printable` also shows terminal controls as visible escapes.
"""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text

from ledger.terminal import printable

__all__ = ["literal", "markup_safe"]


def literal(value: object, style: str = "") -> Text:
    """`value` as unparsed text with controls escaped (for cells and labels)."""
    return Text(printable(value), style=style, end="")


def markup_safe(value: object) -> str:
    """`value` escaped for inclusion in a markup string we compose ourselves."""
    return escape(printable(value))
