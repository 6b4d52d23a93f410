"""The typed event model: every type round-trips through its canonical bytes, bad input fails.

The stored body is `encode_event(e)`; anything that reads the ledger back relies on
`decode_event(encode_event(e)) == e` and on re-encoding giving the same bytes (same leaf hash).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from ledger.events import (
    DATA_MODELS,
    EVENT_CLASSES,
    EVENT_TYPES,
    decode_event,
    encode_event,
    leaf_hash,
    make_event,
    to_json,
)

H = "ab" * 32
ERR = {"type": "ValueError", "message": "boom"}

MINIMAL_DATA: dict[str, dict[str, Any]] = {
    "run.started": {},
    "run.ended": {"event_count": 1},
    "message.input": {},
    "message.output": {},
    "prompt.resolved": {"name": "support", "version": "v3", "template_hash": H},
    "llm.call.started": {"call_id": "c1"},
    "llm.call.ended": {"call_id": "c1"},
    "tool.call.started": {"tool_call_id": "t1", "tool": "crm.update", "args_hash": H},
    "tool.call.ended": {"tool_call_id": "t1", "tool": "crm.update", "status": "ok"},
    "approval.requested": {"approval_id": "a1", "tool_call_id": "t1", "tool": "refund",
                           "args_hash": H},
    "approval.decided": {"approval_id": "a1", "tool_call_id": "t1", "args_hash": H,
                         "decision": "approved", "approver": {"id": "bob"}},
    "guardrail.evaluated": {"name": "pii", "verdict": "pass"},
    "policy.decided": {"tool_call_id": "t1", "tool": "refund", "args_hash": H,
                       "decision": "allow", "mode": "enforce", "pack_hash": H,
                       "evaluator": "precall/1"},
    "error.raised": {"error": ERR},
    "custom": {"name": "step"},
    "policy.published": {"policy_hash": H, "name": "base", "version": "1", "document": {}},
    "registry.published": {"registry_hash": H, "name": "acme", "version": 1, "document": {}},
    "key.announced": {"key_name": "log", "key_id": "k1", "vkey": "log+abc+AAAA"},
    "key.rotated": {"key_name": "log", "key_id": "k2", "vkey": "log+def+BBBB"},
    "key.revoked": {"key_name": "log", "key_id": "k1", "vkey": "log+abc+AAAA"},
    "redaction": {"subject": "user:42", "reason": "GDPR erasure"},
    "undo.plan.created": {"plan_digest": H},
    "undo.plan.approved": {"plan_digest": H},
    "undo.step.started": {"plan_digest": H},
    "undo.step.ended": {"plan_digest": H},
    "annotation": {},
    "ledger.gap": {"reason": "spool lost"},
    "export.created": {"manifest_digest": H},
    "run.stop.requested": {"requested_by": "alice"},
    "run.stop.lifted": {"lifted_by": "alice", "target": "agent:support"},
    "run.suspended": {"reason": "approval", "resume_key": "langgraph:t1",
                      "pending_approvals": ["a1"]},
    "run.resumed": {"resume_key": "langgraph:t1"},
    "exercise.started": {"name": "drill", "title": "Drill", "file_sha256": H,
                         "facilitator": "dana"},
    "exercise.inject_released": {"inject_id": "I1", "elapsed_ms": 0, "released_by": "dana"},
    "exercise.answered": {"milestone": "trace", "answered_by": "alice", "elapsed_ms": 95_000,
                          "recorded_by": "dana"},
    "exercise.rated": {"objective": 0, "rating": "S", "rated_by": "dana"},
    "exercise.discussed": {"question": 0, "answer": "the email", "recorded_by": "dana"},
    "exercise.finding": {"kind": "strength", "text": "fast trace", "recorded_by": "dana"},
    "exercise.ended": {"ended_by": "dana", "elapsed_ms": 1_000},
    "gate.result": {"kind": "run", "suite": "demo", "suite_hash": "ab" * 32,
                    "decision": "pass", "recorded_by": "ci"},
    "monitor.alert": {"origin": "agent-ledger.local/default", "verdict": "leaf_mismatch",
                      "reason": "changed", "verified_size": 4, "found_by": "resample",
                      "recorded_by": "monitor"},
    "partition.created": {"tenant": "acme", "origin": "agent-ledger.local/acme",
                          "range_size": 1024, "recorded_by": "ops"},
    "partition.detached": {"scope": "tenant", "tenant": "acme",
                           "origin": "agent-ledger.local/acme", "recorded_by": "ops"},
    "retention.rule": {"tenant": "acme", "event_class": "llm.*", "keep": "400d",
                       "reason": "contract", "recorded_by": "ops"},
    "hold.added": {"hold_id": str(uuid.UUID(int=1)), "tenant": "acme", "reason": "case 7",
                   "recorded_by": "legal"},
    "hold.released": {"hold_id": str(uuid.UUID(int=1)), "reason": "closed",
                      "recorded_by": "legal"},
    "archive.recorded": {"tenant": "acme", "seq_from": 0, "seq_to": 8, "before": "2026-01-01",
                         "bundle_sha256": "cd" * 32, "checkpoint": "note",
                         "disposition": "detached", "recorded_by": "ops"},
}

RICH_ENVELOPE: dict[str, Any] = {
    "occurred_at": "2026-11-24T10:00:00.123456789Z",
    "mono_ns": 123,
    "tenant": "acme",
    "environment": "prod",
    "principal": {"initiating_user": "alice@example.com", "roles": ["support"]},
    "agent": {"name": "support-agent", "version": "1.0.0"},
    "correlation": {"trace_id": "t", "caused_by": str(uuid.uuid4())},
    "source": {"framework": "langgraph", "integration": "otel", "schema": "otel/1"},
    "trust": "imported",
    "versions": {"prompt_version": "v3", "model": "gpt-4o-mini", "policy_hash": H},
    "raw": {"schema": "otel/1", "payload": {"k": [1, None, "x"]}},
}


def _event(type_name: str, **envelope: Any) -> Any:
    return make_event(
        type_name, run_id=uuid.uuid4(), run_seq=0, data=MINIMAL_DATA[type_name], **envelope
    )


def test_every_event_type_has_a_fixture() -> None:
    assert set(MINIMAL_DATA) == set(EVENT_CLASSES) == set(EVENT_TYPES) == set(DATA_MODELS)


@pytest.mark.parametrize("type_name", EVENT_TYPES)
def test_minimal_event_round_trips(type_name: str) -> None:
    event = _event(type_name)
    body = encode_event(event)
    decoded = decode_event(body)
    assert decoded == event
    assert type(decoded) is EVENT_CLASSES[type_name]
    assert encode_event(decoded) == body
    assert leaf_hash(encode_event(decoded)) == leaf_hash(body)
    assert decode_event(json.loads(body)) == event


@pytest.mark.parametrize("type_name", EVENT_TYPES)
def test_full_envelope_round_trips(type_name: str) -> None:
    event = _event(type_name, **RICH_ENVELOPE)
    body = encode_event(event)
    assert decode_event(body) == event
    assert encode_event(decode_event(body)) == body
    assert json.loads(body)["raw"] == {"schema": "otel/1", "payload": {"k": [1, None, "x"]}}


def test_null_envelope_fields_are_omitted_but_free_json_keeps_nulls() -> None:
    event = make_event(
        "custom", run_id=uuid.uuid4(), run_seq=0,
        data={"name": "n", "attributes": {"kept": None}},
    )
    value = json.loads(encode_event(event))
    for absent in ("prev_run_hash", "mono_ns", "environment", "agent", "raw"):
        assert absent not in value
    assert value["data"]["attributes"] == {"kept": None}
    assert value["schema_version"] == 1
    assert value["source"] == {"framework": "python", "integration": "native",
                               "schema": "agent-ledger/1"}


def test_canonical_bytes_do_not_depend_on_input_key_order() -> None:
    event = _event("run.started")
    shuffled = dict(reversed(list(to_json(event).items())))
    assert encode_event(decode_event(shuffled)) == encode_event(event)


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        make_event("tool.call.exploded", run_id=uuid.uuid4(), run_seq=0, data={})
    body = encode_event(_event("custom")).replace(b'"type":"custom"', b'"type":"nope"')
    with pytest.raises(ValidationError):
        decode_event(body)


def test_unknown_fields_are_rejected() -> None:
    value = to_json(_event("custom"))
    with pytest.raises(ValidationError):
        decode_event({**value, "surprise": 1})
    with pytest.raises(ValidationError):
        decode_event({**value, "data": {**value["data"], "surprise": 1}})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("run_id", "not-a-uuid"),
        ("run_seq", -1),
        ("run_seq", "first"),
        ("prev_run_hash", "ABC"),
        ("prev_run_hash", "AB" * 32),
        ("tenant", "Upper Case"),
        ("trust", "maybe"),
        ("schema_version", 2),
        ("occurred_at", "yesterday"),
        ("occurred_at", "2026-11-24T10:00:00"),
        ("principal", "alice"),
        ("event_id", 7),
    ],
)
def test_wrong_envelope_field_types_are_rejected(field: str, value: Any) -> None:
    with pytest.raises(ValidationError):
        decode_event({**to_json(_event("run.started")), field: value})


@pytest.mark.parametrize(
    ("type_name", "data"),
    [
        ("run.ended", {"event_count": 0}),
        ("run.ended", {"event_count": 3, "status": "exploded"}),
        ("tool.call.started", {"tool_call_id": "t", "tool": "x", "args_hash": "short"}),
        ("tool.call.started", {"tool_call_id": "t", "tool": "x", "args_hash": H, "attempt": 0}),
        ("tool.call.ended", {"tool_call_id": "t", "tool": "x", "status": "ok", "duration_ns": -1}),
        ("tool.call.ended", {"tool_call_id": "t", "tool": "x"}),
        ("llm.call.ended", {"call_id": "c", "usage": {"input_tokens": -5}}),
        ("llm.call.ended", {"call_id": "c", "usage": {"input_tokens": "many"}}),
        ("approval.decided", {"approval_id": "a", "tool_call_id": "t", "args_hash": H,
                              "decision": "maybe", "approver": {"id": "b"}}),
        ("guardrail.evaluated", {"name": "g", "verdict": "pass", "details": "text"}),
        ("custom", {"attributes": {}}),
    ],
)
def test_wrong_data_field_types_are_rejected(type_name: str, data: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_event(type_name, run_id=uuid.uuid4(), run_seq=0, data=data)


@pytest.mark.parametrize("amount", ["0", "49.90", "-0.5", "1000000", "0.000085"])
def test_money_as_decimal_string_is_accepted_verbatim(amount: str) -> None:
    event = make_event(
        "llm.call.ended", run_id=uuid.uuid4(), run_seq=0,
        data={"call_id": "c", "cost": {"amount_usd": amount, "price_table_version": "2026-11"}},
    )
    assert f'"amount_usd":"{amount}"'.encode() in encode_event(event)


@pytest.mark.parametrize("amount", [0.1, 49.9, 1, "1e3", "01.5", "1.", ".5", "1,5", "NaN", "$3"])
def test_money_must_be_a_decimal_string(amount: Any) -> None:
    with pytest.raises(ValidationError):
        make_event(
            "llm.call.ended", run_id=uuid.uuid4(), run_seq=0,
            data={"call_id": "c", "cost": {"amount_usd": amount, "price_table_version": "v"}},
        )
    with pytest.raises(ValidationError):
        make_event(
            "run.ended", run_id=uuid.uuid4(), run_seq=0,
            data={"event_count": 1, "totals": {"cost_usd": amount}},
        )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-24T10:00:00Z", "2026-11-24T10:00:00.000000000Z"),
        ("2026-11-24T10:00:00.5Z", "2026-11-24T10:00:00.500000000Z"),
        ("2026-11-24T10:00:00.123456789z", "2026-11-24T10:00:00.123456789Z"),
        ("2026-11-24T12:00:00.000001+02:00", "2026-11-24T10:00:00.000001000Z"),
        ("2026-11-24T05:30:00.25-04:30", "2026-11-24T10:00:00.250000000Z"),
        ("2026-11-24T10:00:00+00:00", "2026-11-24T10:00:00.000000000Z"),
    ],
)
def test_occurred_at_is_normalised_to_nanosecond_utc(given: str, expected: str) -> None:
    event = make_event("custom", run_id=uuid.uuid4(), run_seq=0, data={"name": "n"},
                       occurred_at=given)
    assert event.occurred_at == expected
    assert decode_event(encode_event(event)).occurred_at == expected


def test_default_occurred_at_and_event_id() -> None:
    event = _event("custom")
    assert event.occurred_at.endswith("Z") and len(event.occurred_at) == 30
    assert event.event_id.version == 7
    assert event.occurred_ns() > 0


def test_event_is_frozen() -> None:
    event = _event("custom")
    with pytest.raises(ValidationError):
        event.run_seq = 5  # type: ignore[misc]
