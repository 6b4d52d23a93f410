"""The sales-ops agent's scripted model: the turns it replays, whatever runs the loop.

One script feeds both the LangGraph graph (exporters/demo/sales_graph.py) and the plain-hooks
loop (exporters/demo/agents.py), which is what keeps the two demo stories identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelTurn", "Step", "script"]

Step = tuple[str, dict[str, Any]]  # (tool name, args) the scripted model proposes


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """One model reply: its text, the tool calls it proposes and the tokens it reports."""

    text: str
    calls: list[dict[str, Any]]
    input_tokens: int
    output_tokens: int = 60


def script(model: str, steps: list[list[Step]], final: str, tokens: int) -> list[ModelTurn]:
    """A turn per batch of tool calls (ids `call_<turn>_<n>`), then the final answer."""
    del model  # the same model answers every turn; kept for the callers' symmetry
    turns = [
        ModelTurn("", [{"name": n, "args": a, "id": f"call_{i}_{j}"}
                       for j, (n, a) in enumerate(batch)], tokens + 180 * i)
        for i, batch in enumerate(steps)
    ]
    turns.append(ModelTurn(final, [], tokens + 180 * len(steps)))
    return turns
