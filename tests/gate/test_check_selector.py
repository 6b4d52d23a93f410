"""Selectors (contract 4): the one parser `gate check`, `gate compare` and `ledger compare` share,
and the one query that finds the runs a selector names."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest

import ledger.hooks as hooks
from ledger.config import Settings
from ledger.event_gate import GateVersions
from ledger.hooks.writer import Writer
from replay.gate.selector import SelectorError, parse_selector, select_runs
from tests.gate.checkkit import Attempt, record, writer_for


def test_keys_versions_and_bare_labels() -> None:
    sel = parse_selector("nightly, agent=sales-ops@1.4,prompt=sales-ops/v5,model=gpt-4o,"
                         "policy=7C024C1669BB,tenant=acme,since=2026-11-24")
    assert (sel.label, sel.agent, sel.agent_version, sel.prompt, sel.model, sel.policy,
            sel.tenant) == ("nightly", "sales-ops", "1.4", "sales-ops/v5", "gpt-4o",
                            "7c024c1669bb", "acme")
    assert sel.since == datetime(2026, 11, 24, tzinfo=UTC) and sel.until is None
    assert str(sel).startswith("label=nightly,agent=sales-ops@1.4,prompt=sales-ops/v5,")
    assert str(parse_selector("")) == "all"
    seen = GateVersions(agent="sales-ops", agent_version="1.4", prompt_version="sales-ops/v5",
                        model="gpt-4o", policy_hash="7c024c1669bb" + "0" * 52)
    assert sel.versions_match(seen)
    assert not sel.versions_match(seen.model_copy(update={"model": "gpt-5"}))
    assert not parse_selector("policy=7c024c16aa").versions_match(seen)
    assert parse_selector("agent=sales-ops").versions_match(seen)


@pytest.mark.parametrize(("text", "message"), [
    ("colour=blue", "unknown key 'colour'"),
    ("agent=@1.4", "agent is NAME or NAME@VERSION"),
    ("prompt=v5", "prompt is NAME/VERSION"),
    ("policy=7c02", "at least 8 hex digits"),
    ("policy=zzzzzzzzzz", "at least 8 hex digits"),
    ("label=a,label=b", "label is given twice"),
    ("model=", "model= needs a value"),
    ("until=someday", "until 'someday' is not a time"),
])
def test_a_bad_selector_is_one_line(text: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_selector(text)
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.fixture
def writer(ledger_settings: Settings) -> Iterator[Writer]:
    yield writer_for(ledger_settings)
    hooks.shutdown()


def test_the_query_filters_on_tag_agent_versions_and_window(
    writer: Writer, ledger_conn: psycopg.Connection
) -> None:
    policy = "ab" * 32
    v4 = record(Attempt(label="v4", policy_hash=policy))
    v5 = record(Attempt(label="v5", model="gpt-4o"))
    other = record(Attempt(label="v4", agent="other-bot", suite="other-suite"))
    untagged = record(Attempt(task=None))

    def ids(text: str) -> list[object]:
        return [r.run_id for r in select_runs(ledger_conn, parse_selector(text))]

    assert ids("") == [v4, v5, other, untagged]
    hooks.decide("late", approver="bob", tool_call_id="c-1", args_hash="ab" * 32)  # 1-event run
    assert hooks.flush(30)
    assert ids("") == [v4, v5, other, untagged]
    assert ids("v4") == [v4, other]
    assert ids("label=v4,agent=sales-ops@1.4") == [v4]
    assert ids("agent=sales-ops@9") == []
    assert ids("model=gpt-4o") == [v5]
    assert ids("prompt=sales-ops/v4,suite=other-suite") == [other]
    assert ids(f"policy={policy[:10]}") == [v4]
    assert ids("tenant=default") == [v4, v5, other, untagged]
    assert ids("tenant=elsewhere,since=1h") == []
    assert ids("until=2000-01-01") == []
    (first,) = select_runs(ledger_conn, parse_selector("v5"))
    assert first.gate is not None and (first.gate.task, first.gate.attempt) == (
        "renewal-update", 1)
    assert (first.agent, first.agent_version, first.model) == ("sales-ops", "1.4", "gpt-4o")


def test_gate_compare_sides_honour_since_and_until(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    """Every key of a `gate compare` side selects: since/until bound the results' recording
    time (they were ignored, so `label=a2,since=2099-01-01` still matched)."""
    from ledger.errors import InputError
    from ledger.gates import record_gate_result
    from replay.gate.compare import resolve_side
    from tests.gate.recordkit import result

    record_gate_result(ledger_conn, ledger_settings, result(label="a2"), signer=None, root=None)
    assert len(resolve_side(ledger_conn, ledger_settings, "label=a2,since=1h").results) == 1
    for text in ("label=a2,since=2099-01-01", "prompt=sales-ops/v4,until=2000-01-01"):
        with pytest.raises(InputError) as caught:
            resolve_side(ledger_conn, ledger_settings, text, role="candidate")
        assert str(caught.value) == f"--candidate {text!r}: no recorded gate results match"
