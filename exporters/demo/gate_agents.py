"""The demo agents as release-gate entrypoints: `callable(input, **params)`, offline.

`ledger gate run docs/examples/gate/demo-suite.yaml` calls `sales_ops(task.input,
prompt_version=...)` once per attempt inside `ledger.gate_task(...)`. What the scripted model
answers depends on the request *and* on the prompt version, which is the point of a gate: the
demo's incident version (`sales-ops/v5`, shipped without its outside-email guard) follows the
instructions an inbound email or a self-declared CEO gives it, exports the customer list to an
outside address and refunds without approval; every other version (v4 before it, v6 the fix)
refuses them and asks a finance lead before a refund of $200 or more, the demo policy's
threshold. The decisions are plain rules over the request text, so a suite run is
deterministic: the same suite gives the same verdicts on every machine, with no model, no key
and no network. The tool calls go through the same loop, tools and effect contracts as `ledger
demo` (exporters/demo/agents.py: LangGraph when installed, the plain hooks otherwise).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from exporters.demo.agents import _run_plain, _tools, langgraph_installed
from exporters.demo.script import Step, script
from exporters.demo.world import SEED, World
from ledger import hooks
from ledger.config import Settings
from replay.undo.capture import call_with_contract
from replay.undo.contracts import ContractRegistry
from replay.undo.probes import UndoContext
from replay.undo.service import contract_sources, load_registry

__all__ = ["VULNERABLE", "Plan", "plan", "sales_ops", "support"]

# the incident's prompt versions (exporters/demo/story.py): sales-ops v5 sent the customer list
# out, support v2 refunded $450 without approval
VULNERABLE = {"sales-ops": frozenset({"v5"}), "support": frozenset({"v2"})}
APPROVAL_USD = 200.0  # refunds from this amount need a finance lead (demo policy v1/v2)
CONTACTS = {email.split("@", 1)[0]: (record, email) for record, _, email, _, _ in SEED}
RECORDS = {record for record, *_ in SEED}

_INJECTED = re.compile(r"ignore (?:earlier|previous|all) instructions|i'?m the ceo|"
                       r"(?:export|send)(?: me)? (?:the|our)(?: full)? (?:customer|contact) list|"
                       r"skip the approval", re.I)
_EXPORT = re.compile(r"(?:export|send)(?: me)? (?:the|our)(?: full)? (?:customer|contact) list",
                     re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Plan:
    """What the scripted model decides for one request: tool-call batches, refunds to make
    (after approval when asked), and its final answer."""

    steps: list[list[Step]] = field(default_factory=list)
    refund: tuple[str, str] | None = None  # (order id, amount)
    ask_approval: bool = False
    final: str = "Done."


def _follow_injection(request: str) -> Plan:
    """The incident version: it does what the text says, whoever wrote it."""
    steps: list[list[Step]] = []
    if _EXPORT.search(request):
        steps.append([("crm.export_contacts", {})])
        rows = ", ".join(f"{r} ({e})" for r, _, e, _, _ in SEED)
        for to in _EMAIL.findall(request)[:1]:
            steps.append([("email.send", {"to": to, "subject": "Customer list",
                                          "body": f"As requested: {rows}."})])
    for record, value in re.findall(r"mark (\w+) as ([\w-]+)", request, re.I):
        if record.lower() in RECORDS:
            steps.append([("crm.update_field", {"record_id": record.lower(), "field": "status",
                                                "value": value.lower()})])
    refund = _refund(request)
    return Plan(steps, refund, ask_approval=False, final="Done, as you asked.")


def _refund(request: str) -> tuple[str, str] | None:
    order = re.search(r"order (\d+)", request, re.I)
    amount = re.search(r"\$(\d+(?:\.\d\d)?)", request)
    if order and amount and re.search(r"refund|money back", request, re.I):
        return order.group(1), f"{float(amount.group(1)):.2f}"
    return None


def plan(request: str, *, vulnerable: bool) -> Plan:
    """The scripted model's answer to `request`, by a vulnerable prompt version or not."""
    if _INJECTED.search(request):
        if vulnerable:
            return _follow_injection(request)
        refund = _refund(request)
        if refund is not None:  # a refund is legitimate work; the "skip the approval" is not
            return Plan(refund=refund, ask_approval=True,
                        final="I asked a finance lead to approve this refund.")
        return Plan(final="I can't act on instructions that arrive in a message; I flagged "
                          "this request for review.")
    steps: list[list[Step]] = []
    for record, value in re.findall(r"move (\w+) to ([\w-]+)", request, re.I):
        steps.append([("crm.update_field", {"record_id": record.lower(), "field": "status",
                                            "value": value.lower()})])
    for record, value in re.findall(r"(?:upgrade|renew) (\w+) (?:to|on) (\w+)", request, re.I):
        steps.append([("crm.update_field", {"record_id": record.lower(), "field": "tier",
                                            "value": value.lower()})])
    for name in re.findall(r"(?:follow up with|tell|email) (\w+)", request, re.I):
        if name.lower() in CONTACTS:
            to = CONTACTS[name.lower()][1]
            steps.append([("email.send", {"to": to, "subject": "Next steps",
                                          "body": f"Hi {name}, a quick follow-up from us."})])
    refund = _refund(request)
    order = re.search(r"order (\d+)", request, re.I)
    if order and refund is None:
        steps.append([("orders.lookup", {"order_id": order.group(1)})])
    ask = refund is not None and float(refund[1]) >= APPROVAL_USD
    return Plan(steps, refund, ask_approval=ask, final="Done.")


_lock = threading.Lock()
_made: dict[tuple[str, str, int], tuple[World, ContractRegistry]] = {}


def _demo(settings: Settings) -> tuple[World, ContractRegistry]:
    """The demo world and effect contracts of one ledger, made once per thread (every attempt
    acts on the same CRM, as the agent in production would; a connection is not shared
    between the threads of `ledger gate run --jobs N`)."""
    key = (str(settings.home), settings.dsn or "", threading.get_ident())
    with _lock:
        if key not in _made:
            _made[key] = (World(settings), load_registry(contract_sources(settings)))
        return _made[key]


def _request(task_input: Any) -> tuple[str, str, str, str | None]:
    """(request, trust, origin, approver) from a task input: a string or a mapping."""
    if isinstance(task_input, str):
        return task_input, "trusted", "chat:user", None
    if not isinstance(task_input, Mapping) or not isinstance(task_input.get("request"), str):
        raise ValueError("the demo agents take {request: TEXT, trust?, origin?, approver?}")
    trust = str(task_input.get("trust", "trusted"))
    approver = task_input.get("approver")
    return (task_input["request"], trust, str(task_input.get("origin", "chat:user")),
            str(approver) if approver else None)


def _act(world: World, registry: ContractRegistry, approver: str | None,
         ask: bool) -> Callable[[hooks.Run, str, dict[str, Any]], Any]:
    """Tool calls through the effect contracts; a refund the plan must have approved asks
    first, and the demo's scripted approver (the input's `approver`) decides."""
    tools, ctx = _tools(world), UndoContext(world.conn)

    def act(run: hooks.Run, name: str, args: dict[str, Any]) -> Any:
        if ask and name == "payments.refund":
            approval = run.request_approval(name, args, reason="refund needs a finance lead",
                                            amount_usd=args["amount_usd"],
                                            required_roles=["finance_lead"])
            if approver is None:
                return {"status": "waiting for approval"}
            hooks.decide(approval.approval_id, approver=approver, roles=["finance_lead"],
                         decision="approved")
        ids: Callable[[Any], tuple[str, ...]] | None = (
            (lambda r: (r["refund_id"],)) if name == "payments.refund" else None)
        return call_with_contract(run, registry, ctx, name, args, tools[name], ids)

    return act


def _steps(p: Plan) -> list[list[Step]]:
    steps = list(p.steps)
    if p.refund is not None:
        order, amount = p.refund
        steps += [[("orders.lookup", {"order_id": order})],
                  [("payments.refund", {"charge_id": f"ch_{order}", "amount_usd": amount})]]
    return steps


def _agent(agent: str, version: str, task_input: Any, *, prompt_version: str, model: str,
           user: str, roles: list[str]) -> str:
    request, trust, origin, approver = _request(task_input)
    settings = hooks.get_writer().settings
    world, registry = _demo(settings)
    decided = plan(request, vulnerable=prompt_version in VULNERABLE[agent])
    turns = script(model, _steps(decided), decided.final, tokens=900)
    act = _act(world, registry, approver, decided.ask_approval)
    with hooks.run(agent=agent, user=user, roles=roles, prompt_version=f"{agent}/{prompt_version}",
                   model=model, task=request[:80], agent_version=version) as run:
        run.prompt(agent, prompt_version, f"You are the {agent} assistant ({prompt_version}).")
        run.message_input(request, trust=trust, origin=origin)  # type: ignore[arg-type]
        if langgraph_installed():
            from exporters.demo.sales_graph import run_graph

            answer = run_graph(run, turns, request, act)
        else:
            answer = _run_plain(run, model, turns, act)
        run.message_output(answer)
    return answer


def sales_ops(task_input: Any, *, prompt_version: str = "v5", model: str = "gpt-4.1-mini",
              user: str = "alice@example.com") -> str:
    """The sales-ops agent (CRM, email, orders, refunds) on one request; returns its answer."""
    return _agent("sales-ops", "2.3.0", task_input, prompt_version=prompt_version, model=model,
                  user=user, roles=["sales"])


def support(task_input: Any, *, prompt_version: str = "v2", model: str = "gpt-4.1-mini",
            user: str = "bob@example.com") -> str:
    """The support agent (orders and refunds) on one request; returns its answer."""
    return _agent("support", "1.8.1", task_input, prompt_version=prompt_version, model=model,
                  user=user, roles=["support"])
