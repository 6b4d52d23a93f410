"""Bad input never crashes the agent and is recorded faithfully (or as a marked stand-in)."""

from __future__ import annotations

import hashlib
import math
import socket
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.hooks as hooks
from ledger.canonical import canonical_bytes
from ledger.hooks.sanitize import json_safe, truncate_marker
from ledger.hooks.writer import Writer

from .conftest import stored


@dataclass
class Order:
    id: str
    qty: int


class Weird:
    def __repr__(self) -> str:
        raise RuntimeError("repr is broken")


@hooks.tool(name="echo", fail_open=True)
def echo(value: object) -> object:
    return value


def test_unserialisable_args_fall_back_to_marked_repr(writer: Writer, ledger_conn):
    sock = socket.socket()
    cyclic: list[object] = []
    cyclic.append(cyclic)
    try:
        with hooks.run(agent="a") as run:
            echo(sock)
            echo(Order("o1", 2))
            echo(Weird())
            echo({1: float("nan"), "big": 2**70, "s": {3}, "c": cyclic})
    finally:
        sock.close()
    writer.flush()
    args = [e.data.args["value"] for e in stored(ledger_conn, run.run_id)
            if e.type == "tool.call.started"]
    assert args[0]["$unserialisable"] == "socket"
    assert args[1] == {"id": "o1", "qty": 2}
    assert args[2]["repr"].startswith("<repr failed")
    assert args[3]["1"] == {"$float": "nan"} and args[3]["big"] == {"$bigint": str(2**70)}
    assert args[3]["s"] == [3] and args[3]["c"] == [{"$cycle": "list"}]


def test_non_utf8_is_escaped(writer: Writer, ledger_conn):
    with hooks.run(agent="a") as run:
        echo(b"caf\xe9")
        run.message_input(b"\xff\xfe".decode("utf-8", "surrogateescape"))
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert events[1].data.args["value"]["$bytes"] == "caf\\xe9"
    assert events[3].data.content == "\\xff\\xfe"


def test_huge_payload_truncated_with_hash(ledger_settings, writer: Writer, ledger_conn):
    hooks.configure(ledger_settings, max_event_bytes=4096, sequence=True)
    big = "x" * 100_000
    with hooks.run(agent="a") as run:
        assert echo(big) == big  # the agent still gets the full value
        run.message_output(big)
    hooks.flush()
    events = stored(ledger_conn, run.run_id)
    start = events[1]
    marker = start.data.args
    assert marker["$truncated"] is True
    assert marker["original_sha256"] == hashlib.sha256(canonical_bytes({"value": big})).hexdigest()
    assert events[2].data.result.startswith("[ledger: truncated ")  # a str stays a str
    assert events[3].data.content.startswith("[ledger: truncated ")
    assert all(len(s) <= 4096 for s in [e.model_dump_json() for e in events])
    hooks.shutdown()


def test_invalid_event_becomes_gap_in_place(writer: Writer, ledger_conn):
    with hooks.run(agent="a") as run:
        run.guardrail("g", "maybe")  # type: ignore[arg-type]  # not a valid verdict
        run.custom("after")
    writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == ["run.started", "ledger.gap", "custom", "run.ended"]
    assert events[1].data.details["type"] == "guardrail.evaluated"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_json_safe_always_canonicalises(value: object) -> None:
    safe = json_safe(value)
    canonical_bytes(safe)
    canonical_bytes(truncate_marker(safe))
    if isinstance(value, float) and math.isfinite(value):
        assert safe == value
