"""Scripted models for the OpenAI Agents SDK tests: real `Model` subclasses, no network.

`PayModel` is stateless, so one Agent (and one model object) can serve many concurrent runs,
as in an app: a user message "pay <who> <amount>" makes it propose `pay` with a call id made
from the message; once the tool's output is in the input, it answers. `gate` holds each first
model call until `gate_size` runs are all inside a model call, so the runs truly interleave.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from agents.items import ModelResponse
from agents.models.interface import Model
from agents.usage import Usage
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)
from typer.testing import CliRunner

IN, OUT = 100, 10


def _text(input: Any) -> str:
    if isinstance(input, str):
        return input
    return json.dumps(input, default=str)


def answer(text: str) -> ModelResponse:
    return ModelResponse(output=[ResponseOutputMessage(
        id="m1", type="message", role="assistant", status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])])],
        response_id=None, usage=Usage(requests=1, input_tokens=IN, output_tokens=OUT,
                                      total_tokens=IN + OUT))


def propose(name: str, args: dict[str, Any], call_id: str) -> ModelResponse:
    return ModelResponse(output=[ResponseFunctionToolCall(
        type="function_call", name=name, arguments=json.dumps(args), call_id=call_id,
        id=f"fc_{call_id}", status="completed")], response_id=None,
        usage=Usage(requests=1, input_tokens=IN, output_tokens=OUT, total_tokens=IN + OUT))


class PayModel(Model):
    """"pay <who> <amount>" -> propose pay(to=who, amount=amount), call id `call_<who>`."""

    def __init__(self, gate_size: int = 0) -> None:
        self.gate_size = gate_size
        self.waiting = 0
        self.all_in: asyncio.Event | None = None

    async def _gate(self) -> None:
        if self.gate_size <= 1:
            return
        if self.all_in is None:
            self.all_in = asyncio.Event()
        self.waiting += 1
        if self.waiting >= self.gate_size:
            self.all_in.set()
        await asyncio.wait_for(self.all_in.wait(), 30)

    async def get_response(self, system_instructions: Any, input: Any, *args: Any,
                           **kwargs: Any) -> ModelResponse:
        text = _text(input)
        if "function_call_output" in text:
            return answer("done")
        words = (input if isinstance(input, str) else input[0]["content"]).split()
        await self._gate()
        who, amount = words[1], words[2]
        return propose("pay", {"to": who, "amount": amount}, f"call_{who}")

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class NamedPayModel(PayModel):
    model = "gpt-4o-mini"


CAPTURE_PACK = "capture: {}\nmax_tool_calls: 5\n"


def check(settings: Any, run_id: Any, tmp: Any) -> dict[str, str]:
    """`ledger check --run RUN --policy capture.yaml --json`, in process: rule id -> outcome."""
    from replay.cli.check_cmd import app as check_app

    pack = tmp / "capture.yaml"
    pack.write_text(CAPTURE_PACK, encoding="utf-8")
    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = {"dsn": settings.dsn, "home": settings.home}

    root.add_typer(check_app)
    res = CliRunner().invoke(root, ["check", "--run", str(run_id), "--policy", str(pack),
                                    "--json"])
    assert res.stdout, (res.exit_code, res.exception)
    return {v["rule_id"]: v["outcome"] for v in json.loads(res.stdout)["runs"][0]["verdicts"]}


def cli(settings: Any, *args: str) -> str:
    """A `ledger` sub-command from replay/cli, in process, against the test's ledger."""
    from replay.cli.replay_cmd import app as replay_app

    root = typer.Typer()

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = {"dsn": settings.dsn, "home": settings.home}

    root.add_typer(replay_app)
    res = CliRunner().invoke(root, list(args))
    assert res.exit_code == 0, (res.stdout, res.exception)
    return res.stdout
