"""`printable`: attacker text made safe to print on a terminal.

Why: every *who* the ledger prints (a principal id, an approval id, a refusal naming a key of a
writer's document) is text a writer chose. Printed raw, an ESC or OSC sequence in it can retitle
the window, plant a hyperlink, write the clipboard or hide the rest of the line from the on-call
engineer reading it. So C0 and C1 controls, DEL and the bidirectional overrides (which reorder
what is shown) become visible escapes; tabs stay, everything else is left as written.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

_UNSAFE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` as a str with terminal controls and bidi overrides shown as \\xNN / \\uNNNN."""
    return _UNSAFE.sub(_escape, str(text))
