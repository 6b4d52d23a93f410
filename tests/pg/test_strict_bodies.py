"""Issue 17: an args_hash that is not its args' hash, and token counts that are not integers,
are rejected with the reason, at ingest and at the sequencer (from a hostile writer's side:
bodies put straight into intake with writer credentials, past the write door)."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import ValidationError

from ledger.db.sqlfiles import query
from ledger.event_data import Usage
from ledger.events import args_hash, encode_event, leaf_hash, make_event
from ledger.hooks.sanitize import token_count
from ledger.ingest import REJECTED, ingest
from ledger.store.sequencer import try_sequence
from tests.pg import test_writer_confinement as wc

confined = wc.confined
TENANT = "a"


def _event(type_name: str, data: dict[str, object], run_seq: int = 1) -> tuple[uuid.UUID,
                                                                                 uuid.UUID, bytes]:
    event = make_event(type_name, run_id=uuid.uuid4(), run_seq=run_seq, tenant=TENANT,
                       prev_run_hash="0" * 64, data=data)
    return event.event_id, event.run_id, encode_event(event)


def _started(args: object, hashed: object) -> dict[str, object]:
    return {"tool_call_id": "call-1", "tool": "refund", "side_effect": True, "args": args,
            "args_hash": args_hash(hashed)}


def _ended(usage: dict[str, int]) -> dict[str, object]:
    return {"call_id": "llm-1", "response_model": "gpt-x", "usage": usage}


def _run_ended(tokens: int) -> dict[str, object]:
    return {"status": "succeeded", "event_count": 2, "last_hash": "0" * 64,
            "totals": {"llm_calls": 1, "tool_calls": 0, "input_tokens": tokens,
                       "output_tokens": 1, "cost_usd": "0"}}


LIAR = args_hash({"amount": 500})
ATTACKS = {
    "args-of-another-hash": (
        "tool.call.started", _started({"amount": 5}, {"amount": 500}), None,
        f"args_hash {LIAR[:16]}... does not match the args "
        f"(their hash is {args_hash({'amount': 5})})"),
    "approval-args-of-another-hash": (
        "approval.requested", {"approval_id": "ap-1", "tool_call_id": "call-1", "tool": "refund",
                               "args": {"amount": 5}, "args_hash": LIAR}, None,
        f"args_hash {LIAR[:16]}... does not match the args "
        f"(their hash is {args_hash({'amount': 5})})"),
    "tokens-as-string": ("llm.call.ended", _ended({"input_tokens": 812}),
                         (b'"input_tokens":812', b'"input_tokens":"812"'),
                         "usage.input_tokens must be a non-negative integer, not the string "
                         "'812'"),
    "tokens-as-float": ("llm.call.ended", _ended({"output_tokens": 8}),
                        (b'"output_tokens":8', b'"output_tokens":8.0'),
                        "usage.output_tokens must be a non-negative integer, not the number 8.0"),
    "tokens-as-bool": ("llm.call.ended", _ended({"total_tokens": 1}),
                       (b'"total_tokens":1', b'"total_tokens":true'),
                       "usage.total_tokens must be a non-negative integer, not the boolean true"),
    "negative-tokens": ("llm.call.ended", _ended({"input_tokens": 3}),
                        (b'"input_tokens":3', b'"input_tokens":-3'),
                        "usage.input_tokens must be a non-negative integer, not -3"),
    "run-totals-as-string": ("run.ended", _run_ended(9),
                             (b'"input_tokens":9', b'"input_tokens":"9"'),
                             "totals.input_tokens must be a non-negative integer, not the "
                             "string '9'"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_hostile_writer_body_is_rejected_with_the_reason(attack: str,
                                                         confined: wc.Confined) -> None:
    type_name, data, edit, reason = ATTACKS[attack]
    event_id, run_id, body = _event(type_name, data)
    if edit is not None:
        assert edit[0] in body
        body = body.replace(*edit)
    origin = confined.settings.origin(TENANT)
    confined.writer.execute(query("submit_events"), ([event_id], [origin], [run_id], [1],
                                                     [body]))
    try_sequence(confined.owner, confined.settings, wait=True)
    rows = confined.owner.execute("SELECT event_id, reason FROM ledger_rejects").fetchall()
    assert rows == [(event_id, reason)]
    stored = confined.owner.execute("SELECT count(*) FROM ledger_events WHERE event_id = %s",
                                    (event_id,)).fetchone()
    assert stored == (0,)


def test_args_not_inline_are_not_checked(confined: wc.Confined) -> None:
    """Truncated args (a `$truncated` marker) and absent args keep the hash of the originals."""
    origin = confined.settings.origin(TENANT)
    truncated = {"$truncated": True, "original_bytes": 9000, "original_sha256": "1" * 64,
                 "preview": "{\"amount\":"}
    for args in (truncated, None):
        first = make_event("run.started", run_id=uuid.uuid4(), run_seq=0, tenant=TENANT,
                           data={})
        head = encode_event(first)
        call = make_event("tool.call.started", run_id=first.run_id, run_seq=1, tenant=TENANT,
                          prev_run_hash=leaf_hash(head).hex(),
                          data=_started(args, {"amount": 5}))
        confined.writer.execute(query("submit_events"), (
            [first.event_id, call.event_id], [origin] * 2, [first.run_id] * 2, [0, 1],
            [head, encode_event(call)]))
    try_sequence(confined.owner, confined.settings, wait=True)
    assert confined.owner.execute("SELECT reason FROM ledger_rejects").fetchall() == []
    assert confined.owner.execute("SELECT count(*) FROM ledger_events").fetchone()[0] >= 2


def test_ingest_rejects_a_lying_args_hash_and_string_tokens(ledger_conn, ledger_settings) -> None:
    run = str(uuid.uuid4())
    lines = [
        {"type": "tool.call.started", "run_id": run,
         "data": _started({"amount": 5}, {"amount": 500})},
        {"type": "llm.call.ended", "run_id": str(uuid.uuid4()),
         "data": {"call_id": "c", "usage": {"input_tokens": "812"}}},
        {"type": "llm.call.ended", "run_id": str(uuid.uuid4()),
         "data": {"call_id": "c", "usage": {"input_tokens": 812}}},
    ]
    result = ingest(ledger_conn, [json.dumps(x).encode() for x in lines], ledger_settings)
    outcomes = [(o.outcome, o.reason) for o in result.lines]
    assert outcomes[0] == (REJECTED, f"args_hash {LIAR[:16]}... does not match the args "
                                     f"(their hash is {args_hash({'amount': 5})})")
    assert outcomes[1] == (REJECTED, "usage.input_tokens must be a non-negative integer, not "
                                     "the string '812'")
    assert outcomes[2][0] == "sequenced"


def test_usage_model_is_strict_and_hooks_convert_int_likes_explicitly() -> None:
    for bad in ("812", 8.0, True, -1):
        with pytest.raises(ValidationError):
            Usage(input_tokens=bad)
    assert Usage(input_tokens=812).input_tokens == 812

    class ProviderInt:  # e.g. a numpy integer from a provider's usage object
        def __index__(self) -> int:
            return 812

    assert token_count(ProviderInt()) == 812
    assert [token_count(v) for v in ("812", 8.0, True, -1, None)] == [None] * 5
