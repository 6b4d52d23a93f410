"""LangGraph overhead: a graph node, and a node calling a chat model, with and without the
ledger's callback handler, measured in the same run (seconds per graph invocation).

    .venv/bin/python bench/integrations/langgraph.py [--quick]

Without LEDGER_DSN it records into an embedded PostgreSQL in a temporary home.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

_HERE = Path(__file__).resolve().parent  # run as a script, this file would shadow langgraph
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parents[1]))

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402

import ledger.hooks as hooks  # noqa: E402
from bench.integrations.common import Overhead  # noqa: E402
from ledger.config import Settings  # noqa: E402
from ledger.integrations.langchain import LedgerCallbackHandler  # noqa: E402


class State(TypedDict, total=False):
    n: int
    reply: str


def _graph(node: Any) -> Any:
    graph = StateGraph(State)
    graph.add_node("step", node)
    graph.add_edge(START, "step")
    graph.add_edge("step", END)
    return graph.compile()


def _model_node() -> Callable[[State], State]:
    reply = AIMessage(content="ok", usage_metadata={
        "input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
        response_metadata={"model_name": "gpt-4o-mini"})
    model = GenericFakeChatModel(messages=iter(lambda: reply, None))

    def node(state: State) -> State:
        return {"reply": str(model.invoke([HumanMessage("hi")]).content)}

    return node


def _time(app: Any, n: int, config: Any) -> float:
    start = time.perf_counter()
    for i in range(n):
        app.invoke({"n": i}, config)
    return (time.perf_counter() - start) / n


def measure(quick: bool) -> list[Overhead]:
    """Per graph invocation: a no-op node, and a node with one chat model call."""
    if hooks.setup._state.writer is None:  # a bench run of its own: a throw-away ledger
        home = Path(tempfile.mkdtemp(prefix="ledger-bench-lg-"))
        hooks.configure(Settings.from_env(home=home), sequence=True)
    n = 50 if quick else 500
    out = []
    def step(state: State) -> State:
        return {"n": state.get("n", 0) + 1}

    nodes: list[tuple[str, Callable[[State], State]]] = [
        ("langgraph.node", step), ("langgraph.model_call", _model_node())]
    for name, node in nodes:
        app = _graph(node)
        _time(app, 5, {})  # warm up
        plain = _time(app, n, {})
        with hooks.run(agent="bench-langgraph"):
            instrumented = _time(app, n, {"callbacks": [LedgerCallbackHandler()]})
        out.append(Overhead(name, plain, instrumented))
    hooks.flush(120)
    return out


if __name__ == "__main__":
    for o in measure("--quick" in sys.argv):
        print(f"{o.name}: {o.plain_s * 1e6:.0f} us plain, {o.instrumented_s * 1e6:.0f} us "
              f"instrumented ({o.instrumented_s / o.plain_s:.1f}x)")
