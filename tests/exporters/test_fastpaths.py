"""The batch fast paths of export and verify-bundle give exactly what the row-by-row code gives.

Why: issue 7's throughput targets replaced per-row work (flatten, population tests, CSV lines,
the Merkle carry loop, the verifier's per-row checks) with column-wise versions; each one is
checked here against the original per-row function it stands in for, on real and on
deliberately odd inputs (wrong field types, invalid JSON), so the bundle format cannot drift.
"""

from __future__ import annotations

import copy
import hashlib
import random
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from exporters import bundle_events
from exporters.bundle_agg import Aggregates
from exporters.bundle_seal import file_entry, seal
from exporters.bundle_verify import verify_bundle
from exporters.populations import POPULATIONS, csv_bytes, population_rows, project_rows
from exporters.rows import EVENT_COLUMNS, flatten, flatten_columns
from exporters.treeproof import StreamingTree
from ledger import ids
from ledger.config import Settings
from ledger.events import EVENT_CLASSES
from ledger.merkle import CompactRange, consistency_proof
from ledger.store.sequencer import log_signer
from tests.exporters.conftest import SINCE, UNTIL

_ODD: list[Any] = [None, 1, 1.5, "", "x", True, False, [], ["a", "b"], {}, {"id": 3}]
_ODD += [{"id": "z"}, {"amount_usd": 2}, {"amount_usd": "3"}, [1]]
_NESTED = {
    "agent": ["name", "version"],
    "principal": ["initiating_user", "roles"],
    "versions": ["model", "policy_hash", "prompt_version", "tool_contract_digest"],
    "data": [
        "name",
        "key_name",
        "tool",
        "tool_call_id",
        "side_effect",
        "status",
        "verdict",
        "decision",
        "approver",
        "policy_hash",
        "contract_digest",
        "response_model",
        "request_model",
        "cost",
    ],
}
_TOP = [*_NESTED, "tenant", "prev_run_hash", "run_seq", "type", "occurred_at", "event_id"]


def _mutants(seed_bodies: list[bytes], count: int) -> list[bytes]:
    rng = random.Random(7)
    out = []
    for i in range(count):
        value = orjson.loads(seed_bodies[i % len(seed_bodies)])
        for _ in range(rng.randint(1, 3)):
            key = rng.choice(_TOP)
            if key in _NESTED and rng.random() < 0.7:
                if not isinstance(value.get(key), dict):
                    value[key] = {}
                sub = rng.choice(_NESTED[key])
                if rng.random() < 0.2:
                    value[key].pop(sub, None)
                else:
                    value[key][sub] = copy.deepcopy(rng.choice(_ODD))
            elif rng.random() < 0.2:
                value.pop(key, None)
            else:
                value[key] = copy.deepcopy(rng.choice(_ODD))
        out.append(orjson.dumps(value))
    return [*out, b"not json", b"[1, 2]", b'{"a": "\xff"}', b"{}"]


def test_exported_rows_equal_row_by_row_flatten(bundle: Path) -> None:
    rows = pq.read_table(bundle / "ledger/events.parquet").to_pylist()
    assert rows
    for row in rows:
        body = row["body"].encode()
        leaf = hashlib.sha256(b"\x00" + body).hexdigest()
        assert flatten(row["seq"], body, leaf) == row


def test_flatten_columns_equals_flatten_on_odd_bodies(bundle: Path) -> None:
    seeds = [
        r.encode() for r in pq.read_table(bundle / "ledger/events.parquet")["body"].to_pylist()
    ]
    bodies = seeds + _mutants(seeds, 3000)
    seqs, leaves = list(range(len(bodies))), ["ab"] * len(bodies)
    cols, bad = flatten_columns(seqs, bodies, leaves, strict=False)
    rejected = 0
    for i, body in enumerate(bodies):
        try:
            want = flatten(i, body, "ab")
        except (ValueError, KeyError, TypeError, AttributeError):
            assert i in bad
            rejected += 1
            continue
        got = {c: cols[c][i] for c in EVENT_COLUMNS}
        assert got == want
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
    assert 0 < rejected < len(bodies) - len(seeds)
    with pytest.raises((ValueError, KeyError, TypeError, AttributeError)):
        flatten_columns([0], [b"not json"], ["ab"])


def test_streaming_tree_matches_compact_range() -> None:
    rng = random.Random(3)
    leaves = [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(1500)]
    for _ in range(30):
        end = rng.randint(1, 1500)
        mid = rng.randint(1, end)
        tree, fed = StreamingTree(mid, end), 0
        while fed < end:
            step = rng.randint(1, 400)
            tree.feed(leaves[fed : min(end, fed + step)])
            fed += step
        assert tree.tree.root() == CompactRange.from_leaf_hashes(leaves[:end]).root()
        assert tree.proof() == consistency_proof(mid, end, leaves[:end])


def test_population_type_prefilter_and_csv_batches() -> None:
    statuses = ["ok", "error", "cancelled", "failed", "stopped", "succeeded", None]
    rows = [
        {
            **dict.fromkeys(EVENT_COLUMNS, "v"),
            "seq": i,
            "type": kind,
            "status": status,
            "side_effect": i % 2 == 0,
            "approver": "bob" if i % 3 else None,
            "initiating_user": "alice",
        }
        for i, (kind, status) in enumerate(
            (kind, status) for kind in sorted(EVENT_CLASSES) for status in statuses
        )
    ]
    cols = {c: [r[c] for r in rows] for c in EVENT_COLUMNS}
    found = population_rows(POPULATIONS, cols)
    line = csv_bytes()
    for pop, idx in zip(POPULATIONS, found, strict=True):
        want = [i for i, r in enumerate(rows) if pop.predicate(r)]
        assert idx == want, pop.id
        assert all(rows[i]["type"] in pop.types for i in want), pop.id
        projected = [pop.project(rows[i]) for i in want]
        assert [list(p) for p in project_rows(pop, cols, idx)] == [list(p) for p in projected]
        assert line.many(projected) == b"".join(line(p) for p in projected)
    assert any(found)


def _reseal(out: Path, settings: Settings) -> None:
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    manifest["files"] = [
        file_entry(out, f["path"], f["media_type"], f.get("rows")) for f in manifest["files"]
    ]
    predicate = {"note": "resealed by test_fastpaths"}
    seal(out, manifest, predicate, log_signer(settings))


def _edit_events(out: Path, edit: Any) -> None:
    table = pq.read_table(out / "ledger/events.parquet")
    rows = edit(table.to_pylist())
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / "ledger/events.parquet")
    (out / "ledger/events.jsonl").write_text("".join(r["body"] + "\n" for r in rows))


def _both_paths(out: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str], int]:
    calls: list[bool] = []
    fast = bundle_events._Scan._fast

    def counting(self: Any, *args: Any) -> bool:
        ok = fast(self, *args)
        calls.append(ok)
        return ok

    with monkeypatch.context() as m:
        m.setattr(bundle_events._Scan, "_fast", counting)
        batched = verify_bundle(out)
    with monkeypatch.context() as m:
        m.setattr(bundle_events._Scan, "_fast", lambda self, *args: False)
        row_by_row = verify_bundle(out)
    assert batched.populations == row_by_row.populations
    assert batched.events == row_by_row.events
    lines = [p.line() for p in batched.problems], [p.line() for p in row_by_row.problems]
    return *lines, sum(calls)


def test_verify_fast_path_reports_exactly_the_row_by_row_path(
    bundle: Path, ledger_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow, fast_batches = _both_paths(bundle, monkeypatch)
    assert fast == slow == [] and fast_batches >= 1

    def drop_mid_run_event(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows.pop(4)
        return rows

    _edit_events(bundle, drop_mid_run_event)
    _reseal(bundle, ledger_settings)
    fast, slow, fast_batches = _both_paths(bundle, monkeypatch)
    assert fast == slow and any("is missing" in p for p in fast) and fast_batches >= 1

    def edit_column(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[2]["agent"] = "someone-else"
        return rows

    _edit_events(bundle, edit_column)
    _reseal(bundle, ledger_settings)
    fast, slow, _ = _both_paths(bundle, monkeypatch)
    assert fast == slow and any("column(s) agent differ" in p for p in fast)


@pytest.mark.parametrize("distinct", [3, 40])
def test_aggregates_batch_equals_row_by_row(distinct: int) -> None:
    rng = random.Random(distinct)
    pool: list[Any] = [None, "", *[f"v{i}" for i in range(distinct)]]
    kinds = ["run.started", "run.ended", "tool.call.started", "ledger.gap", "redaction"]
    kinds += ["guardrail.evaluated", "undo.plan.created", "llm.call.ended"]
    cols: dict[str, list[Any]] = {c: [] for c in EVENT_COLUMNS}
    for seq in range(0, 3000, 3):
        row = {c: rng.choice(pool) for c in EVENT_COLUMNS}
        row.update(seq=seq, type=rng.choice(kinds), verdict=rng.choice(["fail", "pass", None]))
        row["body"] = orjson.dumps({"data": {"n": seq}}).decode()
        for c in EVENT_COLUMNS:
            cols[c].append(row[c])
    one, batched = Aggregates(), Aggregates()
    half = len(cols["seq"]) // 2
    for i in range(len(cols["seq"])):
        one.add({c: cols[c][i] for c in EVENT_COLUMNS})
    for part in (slice(0, half), slice(half, None)):
        sub = {c: v[part] for c, v in cols.items()}

        def row_at(i: int, sub: dict[str, list[Any]] = sub) -> dict[str, Any]:
            return {c: sub[c][i] for c in EVENT_COLUMNS}

        batched.add_batch(sub, row_at)
    assert batched == one


def test_period_check_matches_parse_timestamp() -> None:
    """The verifier's batch period test never accepts what `parse_timestamp` would reject."""
    rng = random.Random(11)
    since, until = ids.parse_timestamp(SINCE), ids.parse_timestamp(UNTIL)
    bounds = ids.format_timestamp(since), ids.format_timestamp(until)
    odd = ["2026-01-32", "2026-02-29", "2026-13-01", "2024-02-29", "2026-01-31", "2025-12-31"]
    for _ in range(400):
        stamp = ids.format_timestamp(since + rng.randint(-(10**15), 3 * 10**15))
        choice = rng.random()
        if choice < 0.2:
            stamp = rng.choice(odd) + stamp[10:]
        elif choice < 0.3:
            stamp = stamp[:11] + rng.choice(["24", "23", "00"]) + stamp[13:]
        elif choice < 0.35:
            stamp = stamp[:-1] + "+00:00"
        try:
            want = since <= ids.parse_timestamp(stamp) < until
        except ValueError:
            want = False
        got = bundle_events._in_period([stamp], *bounds)
        # True only when parse_timestamp agrees; False for non-canonical forms (row path)
        assert got is (want and stamp.endswith("Z")), stamp
