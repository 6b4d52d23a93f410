"""The pure parts of an import: staging regroups any order, building is deterministic."""

from __future__ import annotations

import json

from ledger.events import decode_event
from ledger.importers.build import build_run
from ledger.importers.langfuse import observation
from ledger.importers.report import ImportReport
from ledger.importers.staging import Staging

from .kit import FIXTURES

LINES = [json.loads(x) for x in (FIXTURES / "langfuse" / "blob-export.jsonl").read_text()
         .splitlines()]
OBSERVATIONS = [r for r in LINES if "traceId" in r]


def _built(order: list[dict[str, object]]) -> list[bytes]:
    with Staging() as staging:
        for rec in order:
            assert staging.add(observation(rec)) is None
        return [body for meta, spans in staging.traces() for _, body in
                build_run(meta, spans).lines]


def test_any_input_order_builds_the_same_bytes() -> None:
    assert _built(OBSERVATIONS) == _built(list(reversed(OBSERVATIONS)))


def test_chain_is_continuous_and_imported() -> None:
    events = [decode_event(b) for b in _built(OBSERVATIONS)]
    by_run: dict[object, list[object]] = {}
    for e in events:
        by_run.setdefault(e.run_id, []).append(e)
    for run in by_run.values():
        assert [e.run_seq for e in run] == list(range(len(run)))  # type: ignore[attr-defined]
        assert run[0].prev_run_hash is None  # type: ignore[attr-defined]
        assert {e.trust for e in run} == {"imported"}  # type: ignore[attr-defined]
        assert run[-1].data.event_count == len(run)  # type: ignore[attr-defined]


def test_duplicate_and_conflicting_ids_are_named() -> None:
    rec = OBSERVATIONS[0]
    with Staging() as staging:
        assert staging.add(observation(rec)) is None
        assert staging.add(observation(rec)) == "duplicate of an earlier record in the input"
        changed = observation({**rec, "name": "other"})
        assert staging.add(changed) == "span id used earlier in the input for a different record"


def test_report_balances_and_names_an_empty_window() -> None:
    report = ImportReport("langfuse x")
    assert report.empty and report.balanced
    assert report.summary().endswith("(empty window: no records)")
