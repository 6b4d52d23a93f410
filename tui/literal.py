"""`literal`: recorded text as a Rich `Text` that is drawn exactly as written.

Why: agent names, users, tool names and reasons are chosen by the writer, who may be hostile. A
plain str handed to a DataTable cell, a Static or a toast is parsed as markup: `[red]x[/red]`
would be styled (a forged badge) and an unbalanced `[/red]` raises MarkupError and closes the TUI.
A `Text` is never parsed; `printable` also shows terminal controls as visible escapes.
"""

from __future__ import annotations

from itertools import accumulate

from rich.markup import escape
from rich.text import Span, Text

from ledger.terminal import printable

__all__ = ["literal", "markup_safe", "shown"]


def literal(value: object, style: str = "") -> Text:
    """`value` as unparsed text with controls escaped (for cells and labels)."""
    return Text(printable(value), style=style, end="")


def markup_safe(value: object) -> str:
    """`value` escaped for inclusion in a markup string we compose ourselves."""
    return escape(printable(value))


def shown(text: Text) -> Text:
    """A composed `Text` with the terminal controls inside it escaped, its styles and lines kept.

    Why: panes (inspector, replay, trace) append recorded text to a `Text` (so it is never
    markup), but Textual draws a Text's characters as they are: an ESC or bidi override in them
    would reach the terminal. Line breaks are the pane's own layout and stay.
    """
    plain = text.plain
    flat = plain.replace("\n", " ")
    if printable(flat) == flat:
        return text
    pieces = [ch if ch == "\n" else printable(ch) for ch in plain]
    starts = list(accumulate((len(p) for p in pieces), initial=0))
    out = Text(
        "".join(pieces),
        style=text.style,
        justify=text.justify,
        overflow=text.overflow,
        no_wrap=text.no_wrap,
        end=text.end,
    )
    out.spans[:] = [Span(starts[s.start], starts[s.end], s.style) for s in text.spans]
    return out
