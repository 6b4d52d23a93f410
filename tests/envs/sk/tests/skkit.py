"""A scripted chat completion service and the tools of the SK tests (no network).

`Scripted` is what a user writes to test an SK agent offline: a `ChatCompletionClientBase`
whose replies follow the chat history. Its first reply proposes the calls in `plan` (ids made
from the user's message, so concurrent invocations sharing one service get distinct call
ids); once the tools answered, it replies with their results. Each reply carries usage in
`metadata["usage"]` (a `CompletionUsage`), as SK's OpenAI connector does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import psycopg
import typer
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.chat_completion_client_base import ChatCompletionClientBase
from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.connectors.ai.function_choice_behavior import FunctionChoiceBehavior
from semantic_kernel.connectors.ai.prompt_execution_settings import PromptExecutionSettings
from semantic_kernel.contents import (
    AuthorRole,
    ChatHistory,
    ChatMessageContent,
    FunctionCallContent,
    FunctionResultContent,
)
from semantic_kernel.functions import KernelArguments, kernel_function
from typer.testing import CliRunner

from ledger.store.read import run_events
from replay.cli.check_cmd import app as check_app

MODEL = "gpt-4o-mini"
USAGE = [(120, 30), (200, 12)]  # (prompt, completion) tokens of the first and second reply
BODIES: list[str] = []
Call = tuple[str, dict[str, Any]]
Plan = Callable[[str], list[list[Call]]]  # the calls of each model turn, from the user message


def order_of(user: str) -> str:
    found = re.search(r"order (\w+)", user)
    return found.group(1) if found else "x"


def refund_plan(user: str) -> list[list[Call]]:
    """One turn, two calls (SK runs them concurrently)."""
    key = order_of(user)
    return [[("billing-lookup", {"order_id": key}),
             ("billing-refund", {"order_id": key, "amount_usd": 20})]]


class Scripted(ChatCompletionClientBase):
    """Replies from the chat history alone: one shared instance serves concurrent runs."""

    SUPPORTS_FUNCTION_CALLING: ClassVar[bool] = True
    plan: ClassVar[Plan] = staticmethod(refund_plan)  # type: ignore[assignment]

    async def _inner_get_chat_message_contents(
        self, chat_history: ChatHistory, settings: PromptExecutionSettings
    ) -> list[ChatMessageContent]:
        user = next(str(m.content) for m in chat_history.messages if m.role == AuthorRole.USER)
        results = [i for m in chat_history.messages for i in m.items
                   if isinstance(i, FunctionResultContent)]
        turn = sum(1 for m in chat_history.messages
                   if any(isinstance(i, FunctionCallContent) for i in m.items))
        plan = type(self).plan(user)
        tokens = USAGE[1] if results else USAGE[0]
        usage = CompletionUsage(prompt_tokens=tokens[0], completion_tokens=tokens[1])
        if turn >= len(plan):
            text = "; ".join(str(r.result) for r in results)
            return [ChatMessageContent(role=AuthorRole.ASSISTANT, content=f"done: {text}",
                                       ai_model_id=self.ai_model_id, metadata={"usage": usage})]
        tag = re.sub(r"\W", "", user)[-24:]
        calls = [FunctionCallContent(id=f"call_{tag}_{turn}{n}", name=name,
                                     arguments=json.dumps(args))
                 for n, (name, args) in enumerate(plan[turn])]
        return [ChatMessageContent(role=AuthorRole.ASSISTANT, items=calls,
                                   ai_model_id=self.ai_model_id, metadata={"usage": usage})]


class Billing:
    """The agent's tools: plain kernel functions, as the SK docs write them."""

    on_lookup: ClassVar[list[Callable[[], None]]] = []  # what an operator does meanwhile

    @kernel_function(description="Look an order up.")
    def lookup(self, order_id: Annotated[str, "the order"]) -> str:
        for hook in self.on_lookup:
            hook()
        return f"order {order_id}: 20 USD"

    @kernel_function(description="Refund an order.")
    def refund(self, order_id: Annotated[str, "the order"],
               amount_usd: Annotated[int, "amount"]) -> str:
        BODIES.append(order_id)
        return f"refunded {order_id} ({amount_usd} USD)"

    @kernel_function(description="Wire money.")
    def wire(self, to: Annotated[str, "account"]) -> str:
        BODIES.append(f"wire {to}")
        return f"wired to {to}"


def kernel(service: type[Scripted] = Scripted) -> Kernel:
    k = Kernel()
    k.add_service(service(ai_model_id=MODEL, service_id="scripted"))
    k.add_plugin(Billing(), plugin_name="billing")
    return k


def auto() -> KernelArguments:
    return KernelArguments(settings=PromptExecutionSettings(
        function_choice_behavior=FunctionChoiceBehavior.Auto()))


def events(conn: psycopg.Connection, run_id: Any) -> list[Any]:
    return [s.event for s in run_events(conn, run_id)]


def types(evs: list[Any]) -> list[str]:
    return [e.type for e in evs]


def check(settings: Any, run_id: Any) -> tuple[int, dict[str, str]]:
    """`ledger check --run RUN --json`, the real command in process: (exit code, rule ->
    outcome)."""
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = {"dsn": settings.dsn, "home": settings.home}

    root.add_typer(check_app)
    res = CliRunner().invoke(root, ["check", "--run", str(run_id), "--json"])
    assert res.stdout, (res.exit_code, res.exception)
    verdicts = json.loads(res.stdout)["runs"][0]["verdicts"]
    return res.exit_code, {v["rule_id"]: v["outcome"] for v in verdicts}


def assert_refund_run(evs: list[Any], order: str, user: str) -> None:
    """One `refund_plan` invocation, complete and attributed: its own run, its own call ids."""
    assert types(evs)[:4] == ["run.started", "prompt.resolved", "llm.call.started",
                              "llm.call.ended"]
    assert sorted(types(evs)[4:8]) == ["tool.call.ended"] * 2 + ["tool.call.started"] * 2
    assert types(evs)[8:] == ["llm.call.started", "llm.call.ended", "run.ended"]
    assert len({e.run_id for e in evs}) == 1
    assert {e.principal.initiating_user for e in evs} == {user}
    tag = re.sub(r"\W", "", f"refund order {order}")[-24:]
    calls = {e.data.tool_call_id for e in evs if e.type.startswith("tool.call")}
    assert calls == {f"call_{tag}_00", f"call_{tag}_01"}
    assert {e.data.args["order_id"] for e in evs if e.type == "tool.call.started"} == {order}
    end = evs[-1].data
    assert (end.status, end.totals.llm_calls, end.totals.tool_calls) == ("succeeded", 2, 2)
    assert (end.totals.input_tokens, end.totals.output_tokens) == (320, 42)
    assert end.event_count == len(evs)


def all_runs(conn: psycopg.Connection) -> dict[str, list[Any]]:
    """Every run in the (test's own) ledger, by the order its lookup was for."""
    ids = [r[0] for r in conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()]
    out = {}
    for run_id in ids:
        evs = events(conn, run_id)
        order = next(e.data.args["order_id"] for e in evs if e.type == "tool.call.started")
        out[order] = evs
    return out
