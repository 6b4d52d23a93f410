"""Semantic Kernel: what one model turn and one tool call look like on the record.

Used by ledger/integrations/semantic_kernel.py (the filters). Kept apart so the filters read as
the order of events: SK's auto function calling loop lives inside the chat service
(`ChatCompletionClientBase.get_chat_message_contents`), which no filter wraps, so the model
calls of one prompt function are pieced together from what the filters do see: the prompt
function's invocation (before the first model call, after the last), and each auto function
invocation (the assistant message that proposed the call is in `context.chat_history`, with
its usage in `metadata["usage"]`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from ledger.hooks.errors import LedgerUnavailable, LiveControl
from ledger.hooks.runs import Run
from ledger.hooks.tools import ToolCall, acknowledged

__all__ = ["SCHEMA", "SOURCE", "Turns", "args_of", "message_usage", "proposed", "record_intent"]

SCHEMA = f"semantic-kernel@{version('semantic-kernel')}/filters"
SOURCE = {"framework": "semantic-kernel", "integration": "semantic_kernel", "schema": SCHEMA}


def _plain(value: Any) -> Any:
    """Kernel arguments as data: pydantic models dumped, everything else left to json_safe."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def args_of(call: Any) -> dict[str, Any]:
    """The arguments the model proposed (`FunctionCallContent.arguments`), as parsed data.

    Not `context.arguments`: SK merges the outer invocation's arguments (prompt variables)
    into those, and the ledger binds approvals to what the model asked for."""
    raw = getattr(call, "arguments", None)
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return {"arguments": raw}
        return parsed if isinstance(parsed, dict) else {"arguments": parsed}
    return {str(k): _plain(v) for k, v in dict(raw or {}).items()}


def message_usage(message: Any) -> tuple[int | None, int | None]:
    """(input, output) tokens from `ChatMessageContent.metadata["usage"]` (a CompletionUsage,
    as SK's connectors set it), or (None, None) when the service reported none."""
    usage = (getattr(message, "metadata", None) or {}).get("usage")
    if usage is None:
        return None, None
    if isinstance(usage, dict):
        return usage.get("prompt_tokens"), usage.get("completion_tokens")
    return getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None)


def proposed(message: Any) -> list[dict[str, Any]]:
    """The tool calls a model message proposed, in the event's form."""
    from semantic_kernel.contents import FunctionCallContent

    return [{"tool_call_id": item.id, "name": item.name, "args": args_of(item)}
            for item in getattr(message, "items", ()) if isinstance(item, FunctionCallContent)]


@dataclass
class Turns:
    """The model calls of one prompt function invocation, shared by the auto function tasks.

    `open_call` is the llm call recorded as started and not yet ended; `ended` the request
    indexes whose model message was recorded; `done` counts finished tool calls by request,
    so the next model call is recorded as started when the last tool of a request is done."""

    run: Run
    model: str | None
    open_call: str | None = None
    ended: set[int] = field(default_factory=set)
    done: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, request: Any) -> None:
        """llm.call.started (raises RunStopped first when the run or model is stopped)."""
        self.open_call = self.run.llm_started(model=self.model, request=request,
                                              source=SOURCE)

    def end(self, message: Any, *, finish_reason: str | None = None) -> None:
        """llm.call.ended for `message`; a call never seen starting is recorded whole."""
        with self.lock:
            call_id, self.open_call = self.open_call, None
        if call_id is None:
            call_id = self.run.llm_started(model=self.model, source=SOURCE)
        tokens_in, tokens_out = message_usage(message)
        model = getattr(message, "ai_model_id", None) or self.model
        content = getattr(message, "content", None)
        usage = (getattr(message, "metadata", None) or {}).get("usage")
        self.run.llm_ended(call_id, response_model=model, output=content or None,
                           input_tokens=tokens_in, output_tokens=tokens_out,
                           tool_calls=proposed(message), finish_reason=finish_reason,
                           source=SOURCE, raw=(SCHEMA, {"ai_model_id": model,
                                                        "usage": _plain(usage)}))

    def request_seen(self, index: int, message: Any) -> None:
        """The first tool call of request `index`: its model message ends the open call."""
        with self.lock:
            if index in self.ended:
                return
            self.ended.add(index)
        self.end(message, finish_reason="tool_calls")

    def tool_done(self, index: int, count: int, *, terminated: bool) -> bool:
        """True when this was the last tool call of request `index` and the loop goes on to
        the next model call (it does unless a filter terminated it)."""
        with self.lock:
            self.done[index] = self.done.get(index, 0) + 1
            return self.done[index] == count and not terminated and self.open_call is None


def find_message(history: Any, call: Any) -> Any:
    """The assistant message in `history` that proposed `call` (SK adds it before invoking)."""
    for message in reversed(getattr(history, "messages", None) or []):
        for item in getattr(message, "items", ()):
            if item is call or (getattr(item, "id", None) == call.id and call.id is not None):
                return message
    return None


async def record_intent(run: Run, tool: str, args: Any, call_id: str | None,
                        raw: tuple[str, Any]) -> ToolCall:
    """The tool's intent, decided under a pack and acknowledged durable before it runs.

    Raises the refusal (`PolicyDenied`, `ApprovalRequired`, `RunStopped`), or
    `LedgerUnavailable` when the intent could not be made durable (recorded as the call's
    error first), so the caller never runs a tool it could not record."""
    call = run.tool_started(tool, args, tool_call_id=call_id, wait=True, require_db=True,
                            source=SOURCE, raw=raw)
    if call.ack is None:
        return call
    try:
        await acknowledged(call)
    except LiveControl:
        raise  # a stop at the ack: the gate recorded the refusal
    except Exception:
        refusal = LedgerUnavailable(f"the intent of tool {tool!r} could not be recorded; "
                                    "the tool was not run")
        run.tool_ended(call, status="error", error=refusal, source=SOURCE)
        raise refusal from None
    return call
