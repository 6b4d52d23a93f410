"""Helpers for the DB-backed policy tests: record runs through the public hooks API, then check.

Runs are described as lists of steps (callables on a live `ledger.hooks.Run`) so a test case
is data. `record` plays the steps inside `hooks.run(...)` (or leaves the run open, for the
"capture incomplete" cases), flushes the writer and returns the run id. Everything goes through
the real writer into the real database; the verdicts are then computed from what was stored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

import ledger.hooks as hooks
from ledger import ids
from replay.dbread import fold_run
from replay.policy import Verdict, check_run, compile_pack, load_pack_text
from tests.replay.authority_kit import Kit

Step = Callable[[hooks.Run], None]
T0 = 1_790_000_000 * 1_000_000_000  # a fixed past instant for simulated clocks
#: The guardrail config operators write today (shared/fixtures), or its identical local copy.
GUARDRAILS_FIXTURE = Path("/work/shared/fixtures/guardrails-basic.yaml")


def guardrails_pack() -> Path:
    """The shared fixture when mounted, else the copy beside these tests (kept identical)."""
    local = Path(__file__).with_name("guardrails-basic.yaml")
    return GUARDRAILS_FIXTURE if GUARDRAILS_FIXTURE.exists() else local

REFUND_STRICT = """
policies:
  require_approval_for:
    - {action: refund, any: true, approver_roles: [finance_lead], forbid_self_approval: true,
       max_age_seconds: 60}
"""

INJECTION_PACK = """
flows:
  - {id: untrusted-to-egress, from: {untrusted_messages: true}, to: {tools: [email.send]},
     unless_approved: true}
recipients:
  - {tool: email.send, argument: to, allow_domains: [acme.com]}
"""

IDENTITY: dict[str, Any] = {
    "agent": "db-policy-agent",
    "user": "alice",
    "roles": ["support"],
    "model": "gpt-4o",
    "prompt_version": "support@v3",
}


def llm(tokens: tuple[int, int] | None = (100, 20), model: str = "gpt-4o") -> Step:
    """A finished model call; `tokens=None` records it without usage (and so without cost)."""

    def step(run: hooks.Run) -> None:
        inp, out = tokens if tokens is not None else (None, None)
        run.llm_call(
            model=model,
            request=[{"role": "user", "content": "hi"}],
            response="ok",
            input_tokens=inp,
            output_tokens=out,
        )

    return step


def tool(
    name: str,
    args: Any = None,
    *,
    slow: float = 0.0,
    contract: str | None = None,
    ended: bool = True,
    call_id: str | None = None,
) -> Step:
    """A tool call; `slow` makes the recorded duration that many seconds longer than real."""

    def step(run: hooks.Run) -> None:
        call = run.tool_started(
            name, {} if args is None else args, contract=contract, tool_call_id=call_id
        )
        if ended:
            if slow:
                call = dataclasses.replace(call, started_ns=call.started_ns - int(slow * 1e9))
            run.tool_ended(call, result="done")

    return step


def tool_no_args(name: str) -> Step:
    """A tool call whose arguments were not captured (args recorded as null)."""

    def step(run: hooks.Run) -> None:
        run.tool_ended(run.tool_started(name, None), result="done")

    return step


#: The registry kit of the running test (set by the `signing` fixture), else None: approvals
#: recorded through `approved` are then unsigned, as before issue 14.
CURRENT: list[Kit] = []


def approved(
    name: str,
    args: dict[str, Any],
    *,
    approver: str = "bob",
    roles: Sequence[str] = ("finance_lead",),
    decision: str = "approved",
    executed: dict[str, Any] | None = None,
) -> Step:
    """Request + decide an approval, then run the call (bound to the approved tool_call_id).

    With a kit in force (the `signing` fixture) the decision is signed by `approver`'s registered
    key, as `ledger approve` signs it; `roles` is then only what the event declares.
    """

    def step(run: hooks.Run) -> None:
        approval = run.request_approval(name, args, reason="policy says so")
        if CURRENT and decision != "rejected":
            data = {
                "approval_id": approval.approval_id, "tool_call_id": approval.tool_call_id,
                "args_hash": approval.args_hash, "decision": decision,
                "approver": {"id": approver, "roles": list(roles)},
                **CURRENT[0].signed_fields(
                    run_id=run.run_id, call=approval.tool_call_id, tool=name, args=args,
                    approver=approver, decision=decision,
                ),
            }
            run.record("approval.decided", data)
        else:
            hooks.decide(
                approval.approval_id, approver=approver, roles=list(roles), decision=decision
            )
        run.tool_ended(
            run.tool_started(
                name, executed if executed is not None else args, tool_call_id=approval.tool_call_id
            ),
            result="done",
        )

    return step


def prompt(name: str, version: str) -> Step:
    def step(run: hooks.Run) -> None:
        run.prompt(name, version, f"You are {name}.")

    return step


def untrusted(text: str) -> Step:
    """An untrusted email body entering the agent."""

    def step(run: hooks.Run) -> None:
        run.message_input(text, trust="untrusted", origin="email:inbox")

    return step


def gap() -> Step:
    """An event that cannot be built: the writer records a ledger.gap in its place."""

    def broken() -> dict[str, Any]:
        raise RuntimeError("payload exploded")

    def step(run: hooks.Run) -> None:
        run.record("custom", broken)

    return step


@dataclasses.dataclass(frozen=True)
class Spec:
    """One run to record: steps, whether it ends, identity overrides and clock step."""

    steps: tuple[Step, ...] = ()
    end: bool = True
    identity: tuple[tuple[str, Any], ...] = ()
    step_ns: int | None = None
    start_ns: int = T0
    live: bool = False  # laid out to end just before recording (time rules: max record lag)


def spec(
    *steps: Step, end: bool = True, step_ns: int | None = None, start_ns: int = T0,
    live: bool = False, **identity: Any
) -> Spec:
    """A run spec; with `step_ns` events are laid out from `start_ns`, one step apart (`live`:
    from 50 s before recording, so the time rules see writer times the record can vouch for)."""
    return Spec(tuple(steps), end, tuple(identity.items()), step_ns, start_ns, live)


def record(s: Spec) -> str:
    """Play a spec through the hooks API, flush, and return the run id."""
    kw = {**IDENTITY, **dict(s.identity)}
    start = ids.now_ns() - 50 * 1_000_000_000 if s.live else s.start_ns
    clock = ids.simulated_clock(start, s.step_ns) if s.step_ns else contextlib.nullcontext()
    with clock:
        run = hooks.run(**kw)
        if s.end:
            with run:
                for st in s.steps:
                    st(run)
        else:
            run.begin()
            for st in s.steps:
                st(run)
    assert hooks.flush(), "events did not reach the database"
    return str(run.run_id)


def verdicts(conn: psycopg.Connection, pack_yaml: str, run_id: str) -> dict[str, Verdict]:
    """Check a stored run against a pack given as YAML text."""
    pack = compile_pack(load_pack_text(textwrap.dedent(pack_yaml), "pack.yaml"))
    root = CURRENT[0].root if CURRENT else None
    state = fold_run(conn, UUID(run_id), trust_root=root)
    assert state is not None, f"no run {run_id}"
    return {v.rule_id: v for v in check_run(pack, state)}


def event_ids(conn: psycopg.Connection) -> set[str]:
    return {str(r[0]) for r in conn.execute("SELECT event_id FROM ledger_events").fetchall()}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def failing(report: dict[str, Any]) -> set[str]:
    """Rule ids that failed in a `ledger check --json` report."""
    return {v["rule_id"] for r in report["runs"] for v in r["verdicts"] if v["outcome"] == "fail"}


def as_json(text: str) -> Any:
    return json.loads(text)


def case_ids(names: Sequence[str]) -> list[str]:
    """Test ids from rule ids, numbering repeats (approval.refund, approval.refund-2)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name + ("" if seen[name] == 1 else f"-{seen[name]}"))
    return out
