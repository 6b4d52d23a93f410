"""`ledger gate run`: run every task of a suite through the agent's real entrypoint and hooks.

Why the agent's own entrypoint and not a replay: a release gate must judge what the candidate
does now, recorded the way production records it (the same hooks, integrations, effect
contracts and policy pinning). Each attempt runs inside `ledger.gate_task(...)`, so every run
the agent starts is tagged with the suite, task, attempt, label and suite hash (contract 1) and
carries the versions in force; the runner only learns the run ids from the tag, never from the
agent's return value. Everything is flushed and sequenced before evaluation, which is then the
same as `ledger gate check` (replay.gate.evaluate): what passes here passes there, from the log.

An agent that raises is an *errored* attempt (its reason: the exception type and first line),
and so is an attempt that recorded no run; both stay in the denominator and the runner goes
on to the next attempt. A suite whose entrypoint cannot be imported or called is bad input.
"""

from __future__ import annotations

import contextvars
import dataclasses
import importlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.errors import InputError
from ledger.terminal import printable
from replay.gate.evaluate import AttemptResult, GateReport, TaggedRun, evaluate_runs, summarise

if TYPE_CHECKING:
    import psycopg

    from ledger.authority.trust import TrustRoot
    from ledger.config import Settings
    from ledger.event_gate import GateResultData
    from ledger.gates import GateRecorded
    from ledger.note import Signer
    from replay.gate.suite import Suite

__all__ = ["Attempt", "GateRunError", "RunOutcome", "check_params", "judge", "load_entrypoint",
           "parse_params", "run_suite"]

NO_RUN = uuid.UUID(int=0)  # the placeholder run id of an attempt that recorded no run
_REASON_MAX = 160


class GateRunError(InputError, ValueError):
    """The suite cannot be run as given (entrypoint, params): one line, exit 2."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One call of the entrypoint: the runs it started and, if it raised, why."""

    task: str
    attempt: int
    run_ids: tuple[uuid.UUID, ...]
    error: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """What `run_suite` did: the attempts, the evaluation, the gate.result and its record."""

    report: GateReport
    data: GateResultData
    attempts: tuple[Attempt, ...]
    params: Mapping[str, Any]
    recorded: GateRecorded | None

    @property
    def decision(self) -> str:
        return self.report.decision


def _cwd_importable() -> None:
    """Put the working directory first on sys.path, as `python -m` does: the `ledger` console
    script does not, so an agent module next to the suite (`myagent:run`) would not import
    without PYTHONPATH=. (walk-through #15 of issue 19)."""
    import os
    import sys

    cwd = os.getcwd()
    if "" not in sys.path and cwd not in sys.path:
        sys.path.insert(0, cwd)


def load_entrypoint(spec: str | None) -> Callable[..., Any]:
    """The suite's `module:callable` (dots allowed after the colon), or GateRunError."""
    if not spec or ":" not in spec:
        raise GateRunError("the suite names no agent.entrypoint (module:callable) to run")
    module_name, _, attr = spec.partition(":")
    _cwd_importable()
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise GateRunError(f"cannot import the entrypoint's module {printable(module_name)!r}:"
                           f" {_first_line(exc)}") from None
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise GateRunError(f"the entrypoint {printable(spec)!r} does not exist") from None
    if not callable(target):
        raise GateRunError(f"the entrypoint {printable(spec)!r} is not callable")
    return target  # type: ignore[no-any-return]


def check_params(entry: Callable[..., Any], params: Mapping[str, Any]) -> None:
    """Refuse params the entrypoint cannot take (a mistyped `--param`) before any attempt:
    otherwise every attempt would "error" and the gate would fail for the wrong reason."""
    import inspect

    try:
        signature = inspect.signature(entry)
    except (TypeError, ValueError):  # a builtin or C callable: let the call decide
        return
    try:
        signature.bind(None, **params)
    except TypeError as exc:
        raise GateRunError(f"the entrypoint cannot take the params given: {exc}") from None


def parse_params(pairs: Sequence[str]) -> dict[str, Any]:
    """`--param k=v` pairs; a value that is JSON (number, true, [..]) is decoded, else text."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.isidentifier():
            raise GateRunError(f"--param {printable(pair)!r}: expected NAME=VALUE")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
    line = printable(line)
    return line if len(line) <= _REASON_MAX else line[: _REASON_MAX - 3] + "..."


def _attempt(entry: Callable[..., Any], suite: Suite, job: tuple[str, Any, int], *,
             label: str | None, params: Mapping[str, Any], policy: str | None) -> Attempt:
    """Call the entrypoint once inside the gate tag; never raise (an error is an outcome)."""
    from ledger.hooks.gatetag import gate_task

    task_id, task_input, number = job
    error = None
    start = time.perf_counter()
    with gate_task(suite.suite, task_id, number, label, suite_hash=suite.suite_hash,
                   policy_hash=policy) as tag:
        try:
            entry(task_input, **params)
        except Exception as exc:
            error = f"the agent raised {_first_line(exc)}"
    return Attempt(task_id, number, tag.run_ids, error, time.perf_counter() - start)


def _run_attempts(entry: Callable[..., Any], suite: Suite, label: str | None,
                  params: Mapping[str, Any], jobs: int, *, policy: str | None
                  ) -> list[Attempt]:  # fmt: skip
    work = [(t.id, t.input, n) for t in suite.tasks for n in range(1, t.repeats + 1)]
    if jobs <= 1:
        return [_attempt(entry, suite, job, label=label, params=params, policy=policy)
                for job in work]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gate") as pool:
        futures = [pool.submit(contextvars.copy_context().run, _attempt, entry, suite, job,
                               label=label, params=params, policy=policy) for job in work]
        return [f.result() for f in futures]


def pack_in_force(conn: psycopg.Connection[Any], settings: Settings, suite: Suite) -> str | None:
    """The hash of the policy pack in force now for the suite's agent in the configured log:
    what the attempts will be judged by (replay.policy.inforce), tagged on each so the result,
    `gate run`'s versions line and `ledger versions` name the policy even when the agent's
    runs record none (walk-through #2 of issue 19)."""
    from replay.policy.inforce import PacksInForce

    pub = PacksInForce(conn).in_force(settings.origin(None), 2**62, suite.agent.name)
    return None if pub is None else pub.policy_hash


def judge(conn: psycopg.Connection[Any], settings: Settings, suite: Suite,
          attempts: Sequence[Attempt], *, trust_root: TrustRoot | None) -> GateReport:
    """Evaluate the recorded runs (the first run of each attempt is its evidence); an attempt
    whose agent raised, or that recorded no run, is errored with the runner's reason."""
    tagged = [TaggedRun(a.run_ids[0], a.task, a.attempt) for a in attempts if a.run_ids]
    report = evaluate_runs(conn, settings, suite, tagged, trust_root=trust_root)
    by_key = {(r.task, r.attempt): r for r in report.attempts}
    results: list[AttemptResult] = []
    for a in attempts:
        found = by_key.get((a.task, a.attempt))
        if not a.run_ids:
            results.append(AttemptResult(NO_RUN, a.task, a.attempt, passed=False, errored=True,
                                         reasons=(a.error or "the agent recorded no run",)))
        elif found is not None and a.error is not None:
            results.append(dataclasses.replace(found, passed=False, errored=True,
                                               reasons=(a.error, *found.reasons)))
        elif found is not None:
            results.append(found)
    summary = summarise(suite, results)
    # every run an attempt started is the gate's evidence (a sub-agent's run too), so none of
    # them counts as live traffic in the SLIs (replay/slo/gateruns.py reads these ids)
    started: dict[str, list[uuid.UUID]] = {}
    for a in attempts:
        started.setdefault(a.task, []).extend(a.run_ids)
    tasks = tuple(t.model_copy(update={"run_ids": tuple(dict.fromkeys(
        [*(r for r in t.run_ids if r != NO_RUN), *started.get(t.task, ())]))})
        for t in summary.tasks)
    return GateReport(suite, tasks, summary.attempts, summary.versions)


def run_suite(
    settings: Settings, suite: Suite, *, label: str | None,
    params_override: Mapping[str, Any] | None = None, jobs: int = 1,
    conn: psycopg.Connection[Any] | None = None, trust_root: TrustRoot | None = None,
    recorded_by: str = "gate", signer: Signer | None = None, record: bool = True,
) -> RunOutcome:
    """Run every task `repeats` times with `entrypoint(task.input, **params)`, judge what was
    recorded and (unless `record=False`) record the gate.result, signed with `signer` if given.

    `params_override` (`--param`) replaces the suite's `agent.params` key by key; `jobs` > 1
    runs attempts concurrently in threads (each in its own copy of the context, so the gate
    tags never mix). The hooks are configured for `settings` (the runner owns them)."""
    from ledger import hooks
    from ledger.store.sequencer import try_sequence

    entry = load_entrypoint(suite.agent.entrypoint)
    params = {**suite.agent.params, **(params_override or {})}
    check_params(entry, params)
    own = conn is None
    if conn is None:
        from ledger.db.connect import connect

        conn = connect(settings)
    try:
        hooks.configure(settings)
        policy = pack_in_force(conn, settings, suite)
        attempts = _run_attempts(entry, suite, label, params, jobs, policy=policy)
        hooks.flush()
        try_sequence(conn, settings, wait=True)  # every run in the log before it is judged
        report = judge(conn, settings, suite, attempts, trust_root=trust_root)
        from replay.gate.check import require_one_version

        require_one_version(report, f"nothing recorded; judge each version with `ledger gate "
                                    f"check SUITE --runs label={printable(label or '-')},...`")
        data = report.to_event("run", label, recorded_by)
        recorded = None
        if record:
            from ledger.gates import record_gate_result

            recorded = record_gate_result(conn, settings, data, signer=signer, root=trust_root)
    finally:
        if own:
            conn.close()
    return RunOutcome(report, data, tuple(attempts), params, recorded)
