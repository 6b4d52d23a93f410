"""Issue 15 item 6: `ledger show`, `ledger runs` and `ledger replay` on a run whose agent host
recorded escape sequences and markup (tests/safe_corpus.py); nothing reaches stdout raw."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.safe_corpus import BALANCED, CORPUS, RUN, assert_no_raw, jsonl


@pytest.fixture
def hostile(cli: Any) -> Any:
    """The hostile run recorded through the real `ledger ingest`."""
    res = cli("ingest", "-", input=jsonl())
    assert res.exit_code == 0, res.stderr
    return cli


@pytest.mark.parametrize(
    "command", [("show", RUN), ("runs",), ("replay", RUN)], ids=["show", "runs", "replay"]
)
def test_printing_commands_escape_the_corpus(hostile: Any, command: tuple[str, ...]) -> None:
    res = hostile(*command)
    assert res.exit_code == 0, res.stderr
    assert_no_raw(res.stdout)
    assert_no_raw(res.stderr)
    # shown, not dropped: the escapes are visible, the markup literal
    assert "\\x1b[2J" in res.stdout
    if command[0] != "show":
        assert "\\u202egnp.exe" in res.stdout
        assert "[red]x[/red]" in res.stdout


def test_show_escapes_tool_and_llm_text(hostile: Any) -> None:
    out = hostile("show", RUN).stdout
    lines = out.splitlines()
    tool = next(line for line in lines if "tool.call.started" in line)
    assert "send[red]x[/red]\\x1b[2J" in tool


def test_runs_table_stays_aligned(hostile: Any) -> None:
    lines = hostile("runs").stdout.splitlines()
    header, row = lines[0], next(line for line in lines if line.startswith(RUN))
    assert row.index("usr[red]x[/red]") == header.index("USER")




def test_top_level_error_line_escapes_attacker_text(cli: Any, tmp_path: Any) -> None:
    """A pack whose key is the corpus: the CLI's one-line error quotes it, escaped."""
    pack = tmp_path / "pack.yaml"
    pack.write_text(json.dumps({"max_tool_calls": 1, "k" + CORPUS + BALANCED: 2}))
    res = cli("policy", "publish", str(pack))
    assert res.exit_code == 2, res.stderr
    assert_no_raw(res.stderr)
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ")
    assert "k\\x1b[2J\\x1b[32mOK" in res.stderr and "unknown key" in res.stderr
