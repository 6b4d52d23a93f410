"""Review r17a: resume-key collisions inside one tenant. Mallory's (compromised) host suspends
a run under the key bob's next framework run will use (`langgraph:<thread>`), with a
run.started of its own choosing (user mallory, role admin). Bob's `open_run` must not continue
mallory's run, which would record bob's actions under mallory's identity: it starts bob's own
run, and mallory's stays suspended. The same user's (and agent's) resume still continues."""

from __future__ import annotations

import psycopg

import ledger
from ledger.hooks.continuity import open_run
from ledger.hooks.writer import Writer

from .conftest import stored


def _planted(key: str) -> ledger.Run:
    with ledger.run(agent="support-bot", user="mallory", roles=["admin"]) as run:
        run.suspend("interrupt", resume_key=key)
    return run


def test_another_users_resume_key_does_not_continue_a_planted_run(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    planted = _planted("langgraph:t-1")
    assert writer.flush()
    with open_run("langgraph:t-1", agent="support-bot", user="bob") as run:
        assert run.run_id != planted.run_id
        assert run.user == "bob"
    assert writer.flush()
    assert ledger.find_suspended("langgraph:t-1") == planted.run_id
    started = stored(ledger_conn, run.run_id)[0]
    assert started.principal.initiating_user == "bob" and not started.principal.roles
    assert [e.type for e in stored(ledger_conn, planted.run_id)][-1] == "run.suspended"


def test_the_same_user_and_agent_still_resume(writer: Writer) -> None:
    planted = _planted("langgraph:t-2")
    assert writer.flush()
    with open_run("langgraph:t-2", agent="other-bot") as other:
        assert other.run_id != planted.run_id
    with open_run("langgraph:t-2", agent="support-bot") as run:  # user unknown: the key's
        assert run.run_id == planted.run_id
        run.suspend()
    with open_run("langgraph:t-2", agent="support-bot", user="mallory") as run:
        assert run.run_id == planted.run_id
