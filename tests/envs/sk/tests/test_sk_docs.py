"""The Semantic Kernel example of docs/hooks.md runs here (the main docs tests cannot import
semantic-kernel): the block fenced ```python sk-env in the "Semantic Kernel" section, exec'd
as written, against the test's ledger."""

from __future__ import annotations

import re
from pathlib import Path

from .skkit import events, types

DOC = Path(__file__).resolve().parents[4] / "docs" / "hooks.md"


def _block() -> str:
    section = DOC.read_text(encoding="utf-8").split("### Semantic Kernel\n", 1)[1]
    section = re.split(r"^##", section, maxsplit=1, flags=re.M)[0]
    (block,) = re.findall(r"^```python sk-env\n(.*?)^```", section, flags=re.S | re.M)
    return block


def test_docs_example_runs_and_records(writer, ledger_conn, capsys):
    namespace: dict[str, object] = {"__name__": "docs_hooks_semantic_kernel"}
    exec(compile(_block(), "docs/hooks.md#semantic-kernel", "exec"), namespace)
    printed = capsys.readouterr().out
    assert writer.flush()
    ids = [r[0] for r in ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()]
    (run,) = ids
    assert printed.strip() == f"Ticket T-7 is closed. {run}"
    evs = events(ledger_conn, run)
    assert types(evs) == ["run.started", "prompt.resolved", "llm.call.started", "llm.call.ended",
                          "tool.call.started", "tool.call.ended", "llm.call.started",
                          "llm.call.ended", "run.ended"]
    start = evs[4].data
    assert (start.tool, start.tool_call_id, start.args) == ("tickets-close", "call_1",
                                                           {"ticket_id": "T-7"})
    assert evs[5].data.result == "closed T-7"
    assert {e.principal.initiating_user for e in evs} == {"ivy"}
    end = evs[-1].data
    assert (end.status, end.totals.input_tokens, end.totals.output_tokens) == (
        "succeeded", 100, 20)
