"""`markdown_text` / `markdown_code`: attacker text made inert inside a Markdown document we write.

Why: after-action reports, a bundle's README and known_gaps.md quote what writers recorded
(gap details, agent and tenant names, decisions typed during an exercise). Pasted raw, `\\n# OK`
starts a heading, `|` splits a table cell, `[x](javascript:…)` plants a link and `<script>` is raw
HTML to many renderers: the text could rewrite the document an auditor reads. So every value is
first made printable (controls and line breaks become visible escapes: one line, so it can never
start a block such as a heading, list or quote), then every character that has a meaning inside a
line is escaped: `&` and `<` as entities (no HTML tag, no entity can form), link, emphasis, code
and table characters with a backslash (CommonMark lets any ASCII punctuation be escaped). The
reader sees exactly what was recorded; our own text around it (dates, `>`, `-`) stays readable.
"""

from __future__ import annotations

import re

from ledger.terminal import printable

__all__ = ["markdown_code", "markdown_text"]

_ENTITIES = {"&": "&amp;", "<": "&lt;"}
_SPECIAL = re.compile(r"[\\`*_\[\]|~&<]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ENTITIES.get(char) or "\\" + char


def markdown_text(value: object) -> str:
    """`value` as inline Markdown text that renders as written and cannot add structure."""
    return _SPECIAL.sub(_escape, printable(value))


def markdown_code(value: object) -> str:
    """`value` as an inline code span (a fence longer than any backtick run inside it).

    Escapes do not work inside a code span, so the fence is chosen instead; `|` is still escaped
    because GitHub splits table cells before it parses code spans.
    """
    text = printable(value).replace("|", "\\|")
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
