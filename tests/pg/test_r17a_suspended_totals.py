"""Review r17a: token strictness on the new run.suspended event. Its `totals` are what a resumed
run continues from and what `ledger serve` copies into the abandoned run.ended, so a hostile
writer's totals with a string, float, boolean or negative count must be rejected at the
sequencer with the reason, like run.ended's (else the abandoned run.ended cannot be built and
the run stays suspended, out of `ledger check`'s failures, forever)."""

from __future__ import annotations

import uuid

import pytest

from ledger.db.sqlfiles import query
from ledger.events import encode_event, leaf_hash, make_event
from ledger.store.sequencer import try_sequence
from tests.pg import test_writer_confinement as wc

confined = wc.confined
TENANT = "a"
BAD = {
    "string": (b'"input_tokens":9', b'"input_tokens":"9"',
               "totals.input_tokens must be a non-negative integer, not the string '9'"),
    "float": (b'"tool_calls":1', b'"tool_calls":1.0',
              "totals.tool_calls must be a non-negative integer, not the number 1.0"),
    "bool": (b'"llm_calls":1', b'"llm_calls":true',
             "totals.llm_calls must be a non-negative integer, not the boolean true"),
    "negative": (b'"output_tokens":2', b'"output_tokens":-2',
                 "totals.output_tokens must be a non-negative integer, not -2"),
}


@pytest.mark.parametrize("bad", sorted(BAD))
def test_run_suspended_totals_that_are_not_counts_are_rejected(bad: str,
                                                               confined: wc.Confined) -> None:
    find, put, reason = BAD[bad]
    started = make_event("run.started", run_id=uuid.uuid4(), run_seq=0, tenant=TENANT, data={})
    head = encode_event(started)
    suspended = make_event(
        "run.suspended", run_id=started.run_id, run_seq=1, tenant=TENANT,
        prev_run_hash=leaf_hash(head).hex(),
        data={"reason": "interrupt", "resume_key": "k", "pending_approvals": [],
              "totals": {"llm_calls": 1, "tool_calls": 1, "input_tokens": 9,
                         "output_tokens": 2, "cost_usd": "0"}})
    body = encode_event(suspended)
    assert find in body
    origin = confined.settings.origin(TENANT)
    confined.writer.execute(query("submit_events"), (
        [started.event_id, suspended.event_id], [origin] * 2, [started.run_id] * 2, [0, 1],
        [head, body.replace(find, put)]))
    try_sequence(confined.owner, confined.settings, wait=True)
    rows = confined.owner.execute("SELECT event_id, reason FROM ledger_rejects").fetchall()
    assert rows == [(suspended.event_id, reason)]
