"""The hostile corpus of issue 15 item 6 ("safe output"), from the attacker's side.

A hostile agent host records escape sequences and Rich markup as its agent name, the user it acts
for, tool arguments and LLM output, then waits for an on-call engineer to read the run with
`ledger show`, `ledger runs`, `ledger replay` or the TUI. Nothing of it may reach the terminal raw
(no ESC, BEL, C1 or bidi override character on stdout), and the TUI must neither crash on
unbalanced markup nor render balanced markup as styling.
"""

from __future__ import annotations

import json
import re
from typing import Any

RUN = "0193a1b2-7c00-7000-8000-0000000015a6"

CLEAR = "\x1b[2J"
FAKE_OK = "\x1b[32mOK\x1b[0m"
OSC_TITLE = "\x1b]0;pwned\x07"
OSC_CLIPBOARD = "\x1b]52;c;cm0gLXJmIH4=\x07"
OSC_LINK = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
BIDI = "\u202egnp.exe"
UNBALANCED = "[bold"
CLOSE_ONLY = "[/red]"
BALANCED = "[red]x[/red]"
CORPUS = CLEAR + FAKE_OK + OSC_TITLE + OSC_CLIPBOARD + OSC_LINK + BIDI + UNBALANCED + CLOSE_ONLY
AGENT = "ag" + BALANCED + CORPUS
USER = "usr" + BALANCED + CORPUS
RAW = ("\x1b", "\x07", "\x9b", "\u202e")


def _event(kind: str, n: int, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"0193a1b2-7c{n:02d}-7000-8000-0000000015a6",
        "run_id": RUN,
        "occurred_at": f"2026-11-24T10:00:{n:02d}.000000000Z",
        "principal": {"initiating_user": USER, "roles": ["support"]},
        "agent": {"name": AGENT, "version": "1.0.0"},
        "versions": {"prompt_version": "v1", "model": "gpt"},
        "data": data,
    }


def jsonl() -> bytes:
    args = {"to": CORPUS + BALANCED}
    events = [
        _event("run.started", 0, {"task": BALANCED + CORPUS}),
        _event("message.output", 1, {"role": "assistant", "content": CORPUS + BALANCED}),
        _event("llm.call.ended", 2, {"call_id": "c1", "response_model": "m" + CORPUS,
                                      "output": CORPUS + BALANCED}),
        _event("tool.call.started", 3, {
            "tool_call_id": "t1" + CORPUS, "tool": "send" + BALANCED + CORPUS, "args": args,
            "args_hash": _hash(args), "side_effect": True}),
        _event("run.ended", 4, {"status": "failed", "event_count": 5}),
    ]
    return "\n".join(json.dumps(e) for e in events).encode() + b"\n"


def _hash(args: Any) -> str:
    from ledger.events import args_hash

    return args_hash(args)




def assert_no_raw(text: str) -> None:
    """No escape, BEL, C1 CSI or bidi override character in `text`."""
    for char in RAW:
        assert char not in text, f"{char!r} reached the terminal raw"


# Markdown exports (after-action reports, a bundle's README and known_gaps.md): recorded text that
# would add a link, raw HTML, a heading or a table cell if pasted raw.
MD_LINK = "[ok](javascript:alert(1))"
MD_HTML = "<script>alert(1)</script><img src=x onerror=alert(1)>"
MD_HEADING = "\n# OK: all clear\n"
MD_CELL = "a | b | c"
MD_CORPUS = MD_LINK + MD_HTML + MD_HEADING + MD_CELL + "*bold* _em_ `code` ~~gone~~ \\" + CORPUS


def assert_inert_markdown(doc: str, headings: list[str]) -> None:
    """`doc` shows MD_CORPUS without obeying it: its headings are exactly `headings`, no link,
    raw HTML or terminal control formed, and every table row keeps its header's cell count."""
    assert_no_raw(doc)
    lines = doc.splitlines()
    assert [line for line in lines if line.startswith("#")] == headings
    prose = re.sub(r"(?<!\\)(`+)(?!`).*?(?<!`)\1(?!`)", "", doc)  # code spans show text as is
    assert not re.search(r"(?<!\\)\]\(javascript", prose), "a link formed"
    assert "<script" not in prose and "<img" not in prose, "raw HTML formed"
    cells = 0
    for line in lines:
        if not line.startswith("|"):
            cells = 0
            continue
        n = len(re.findall(r"(?<!\\)\|", line))
        cells = cells or n
        assert n == cells, f"a table row gained cells: {line}"
