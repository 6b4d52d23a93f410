"""`tui.literal`: recorded text in composed panes keeps the pane's styles and lines but loses its
terminal controls; cells are never markup (issue 15 item 6)."""

from __future__ import annotations

from rich.text import Span, Text

from tui.literal import literal, markup_safe, shown


def test_shown_escapes_controls_and_moves_the_styles_with_the_text() -> None:
    pane = Text()
    pane.append("agent ", style="dim")
    pane.append("\x1b[2J\u202eevil\n")
    pane.append("chain ok", style="green")
    out = shown(pane)
    assert out.plain == "agent \\x1b[2J\\u202eevil\nchain ok"
    assert out.spans == [Span(0, 6, "dim"), Span(24, 32, "green")]
    assert out.plain[24:32] == "chain ok"


def test_shown_leaves_clean_text_as_it_is() -> None:
    pane = Text("clean\nlines", style="bold")
    assert shown(pane) is pane


def test_markup_is_literal_text() -> None:
    assert literal("[/red]x[bold").plain == "[/red]x[bold"
    assert literal("[red]x[/red]").spans == []
    assert Text.from_markup(f"[b]{markup_safe('[/red] [red]x[/red]')}[/b]").plain == (
        "[/red] [red]x[/red]"
    )
