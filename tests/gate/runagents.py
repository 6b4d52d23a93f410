"""Entrypoints for the `gate run` tests (tests/gate/test_run*.py): agents that misbehave.

Each takes `(input, **params)` like a real entrypoint and records through the real hooks."""

from __future__ import annotations

from typing import Any

import ledger

NOT_CALLABLE = "a suite may name this, and must be refused"


def agent(task_input: Any, *, mode: str = "ok") -> str:
    """`input.do` says what to do: ok, raise (inside a run), raise_early (before any run),
    no_run (return without recording), two_runs (a sub-run too)."""
    do = task_input.get("do", "ok") if isinstance(task_input, dict) else "ok"
    if do == "raise_early":
        raise TypeError("the agent could not start\nsecond line never shown")
    if do == "no_run":
        return "nothing recorded"
    with ledger.run(agent="flaky", user="ci", prompt_version=f"flaky/{mode}") as run:
        run.message_input(str(task_input), trust="trusted")
        if do == "raise":
            raise ValueError("tool \x1b[31mexploded\x1b[0m\nsecond line")
        if do == "two_runs":
            with ledger.run(agent="flaky-helper", user="ci"):
                pass
        run.message_output("done")
    return "done"
