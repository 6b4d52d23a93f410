"""Semantic Kernel streaming (`kernel.invoke_prompt_stream`), written from the docs: the
filters installed, a prompt streamed inside `ledger.run(...)` and outside any run. The model
call must end with the usage the service put in the last chunk's `metadata["usage"]` (tokens
and cost), and the implicit run must end after the stream, not before the model answered."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from semantic_kernel.connectors.ai.completion_usage import CompletionUsage
from semantic_kernel.contents import (
    AuthorRole,
    FunctionCallContent,
    FunctionResultContent,
    StreamingChatMessageContent,
)

import ledger
from ledger.integrations.semantic_kernel import LedgerFilters

from .skkit import MODEL, Scripted, auto, check, events, kernel, types

EXPECTED = ["run.started", "prompt.resolved", "llm.call.started", "llm.call.ended",
            "run.ended"]


class Streams(Scripted):
    """Streams "Hello there" in two chunks; usage comes in a last, empty chunk (as OpenAI's
    `stream_options={"include_usage": True}` does)."""

    async def _inner_get_streaming_chat_message_contents(
        self, chat_history: Any, settings: Any, function_invoke_attempt: int = 0
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        for word in ("Hello", " there"):
            yield [StreamingChatMessageContent(role=AuthorRole.ASSISTANT, choice_index=0,
                                               content=word, ai_model_id=self.ai_model_id)]
        yield [StreamingChatMessageContent(
            role=AuthorRole.ASSISTANT, choice_index=0, content="", ai_model_id=self.ai_model_id,
            metadata={"usage": CompletionUsage(prompt_tokens=40, completion_tokens=2)})]


def _assert_streamed(evs: list[Any], user: str) -> None:
    assert types(evs) == EXPECTED
    assert {e.principal.initiating_user for e in evs} == {user}
    ended = evs[3].data
    assert ended.call_id == evs[2].data.call_id
    assert (ended.usage.input_tokens, ended.usage.output_tokens) == (40, 2)
    assert ended.response_model == MODEL and ended.cost is not None
    totals = evs[-1].data.totals
    assert (evs[-1].data.status, totals.llm_calls, totals.input_tokens) == ("succeeded", 1, 40)


async def _stream(k: Any) -> str:
    return "".join([str(chunk[0]) async for chunk in k.invoke_prompt_stream(
        "{{$input}}", input="hi")])


async def test_a_streamed_prompt_ends_its_model_call_with_usage(writer, ledger_conn,
                                                                ledger_settings):
    k = kernel(Streams)
    LedgerFilters().install(k)
    async with ledger.run(agent="sk-chat", user="ann") as run:
        assert await _stream(k) == "Hello there"
    assert run.flush()
    _assert_streamed(events(ledger_conn, run.run_id), "ann")
    _code, outcomes = check(ledger_settings, run.run_id)
    assert "fail" not in outcomes.values(), outcomes


async def test_a_streamed_prompt_outside_a_run_is_one_implicit_run(writer, ledger_conn):
    k = kernel(Streams)
    LedgerFilters(agent="sk-chat", user="bea").install(k)
    assert await _stream(k) == "Hello there"
    assert ledger.flush()
    [(run_id,)] = ledger_conn.execute(
        "SELECT run_id FROM ledger_events WHERE type = 'run.started'").fetchall()
    _assert_streamed(events(ledger_conn, run_id), "bea")


class StreamsTools(Scripted):
    """Streams a call of `billing-lookup`, then (after the tool answered) "all done"."""

    async def _inner_get_streaming_chat_message_contents(
        self, chat_history: Any, settings: Any, function_invoke_attempt: int = 0
    ) -> AsyncGenerator[list[StreamingChatMessageContent], Any]:
        usage = CompletionUsage(prompt_tokens=40, completion_tokens=2)
        answered = any(isinstance(i, FunctionResultContent)
                       for m in chat_history.messages for i in m.items)
        items: list[Any] = [FunctionCallContent(
            id="call_s1", name="billing-lookup", arguments='{"order_id": "Z9"}', index=0)]
        content = {"content": "all done"} if answered else {"items": items}
        yield [StreamingChatMessageContent(role=AuthorRole.ASSISTANT, choice_index=0,
                                           ai_model_id=self.ai_model_id,
                                           metadata={"usage": usage}, **content)]


async def test_streamed_auto_function_calling_records_both_model_calls(writer, ledger_conn,
                                                                       ledger_settings):
    k = kernel(StreamsTools)
    LedgerFilters().install(k)
    async with ledger.run(agent="sk-chat", user="ann") as run:
        out = [str(c[0]) async for c in k.invoke_prompt_stream(
            "{{$input}}", arguments=auto() | {"input": "look up order Z9"})]
    assert out[-1] == "all done"
    assert run.flush()
    evs = events(ledger_conn, run.run_id)
    assert types(evs) == ["run.started", "prompt.resolved", "llm.call.started",
                          "tool.call.started", "tool.call.ended", "llm.call.ended",
                          "llm.call.started", "llm.call.ended", "run.ended"]
    first, second = evs[5].data, evs[7].data
    assert first.call_id == evs[2].data.call_id and second.call_id == evs[6].data.call_id
    assert [c.tool_call_id for c in first.proposed_tool_calls] == ["call_s1"]
    assert evs[3].data.tool_call_id == evs[4].data.tool_call_id == "call_s1"
    assert (second.usage.input_tokens, second.usage.output_tokens) == (40, 2)
    totals = evs[-1].data.totals
    assert (totals.llm_calls, totals.tool_calls, totals.input_tokens) == (2, 1, 80)
    _code, outcomes = check(ledger_settings, run.run_id)
    assert "fail" not in outcomes.values(), outcomes
