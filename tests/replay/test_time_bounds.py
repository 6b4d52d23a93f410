"""Whose clock (issue 15 item 4), from the writer's side: dated times never make a time rule pass.

A hostile agent host writes its runs through `ledger ingest` with `occurred_at` of its choosing;
`ledger check` judges them. Writer times count only inside [run start, own recorded_at + skew]
(replay.policy.timebounds); outside, the time rule is `unknown` with the reason, never `pass`.
Honest runs keep their outcomes: in time passes, an old approval still fails. All runs go
through one ingest and one check so the whole attack costs two CLI calls.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger import ids
from ledger.events import EventBase, encode_event
from replay.policy import Verdict, check_run, compile_pack, load_pack_text
from replay.state import fold
from replay.synth import RunBuilder

PACK = """\
timeouts: {overall_seconds: 600}
policies:
  require_approval_for:
    - {action: refund, any: true, max_age_seconds: 10}
"""
ARGS = {"amount_usd": 250}
SEC = 1_000_000_000


def _run(*, wait_s: float = 1.0) -> tuple[RunBuilder, dict[str, EventBase]]:
    """An honest run ending just now: start, approval, the refund `wait_s` later, end (written
    within the record lag, as the hooks do)."""
    b = RunBuilder(start_ns=ids.now_ns() - int((wait_s + 10) * SEC))
    marks = {"started": b.start()}
    call_id = f"c-{uuid.uuid4()}"  # unique: a decision naming another run's call id would join
    b.approve(call_id, "refund", ARGS, request=False)
    marks["decided"] = b.events[-1]
    b.now += int(wait_s * SEC)
    b.tool("refund", ARGS, call_id=call_id)
    marks["call"] = b.events[-2]
    marks["ended"] = b.end()
    return b, marks


def _lines(b: RunBuilder, dated: dict[str, str]) -> list[bytes]:
    """The run as ingest lines, with the writer's chosen `occurred_at` for some event ids
    (run_seq and prev_run_hash left for ingest to fill in, so the chain stays intact)."""
    out = []
    for event in b.events:
        obj: dict[str, Any] = json.loads(encode_event(event))
        obj.pop("prev_run_hash", None)
        obj.pop("run_seq", None)
        obj["occurred_at"] = dated.get(obj["event_id"], obj["occurred_at"])
        out.append(json.dumps(obj).encode())
    return out


def _verdicts(cli: Any, tmp_path: Path, runs: dict[str, list[bytes]]) -> dict[str, Any]:
    lines = [line for run in runs.values() for line in run]
    res = cli("ingest", "-", input=b"\n".join(lines) + b"\n")
    assert res.exit_code == 0, res.stdout + res.stderr
    pack = tmp_path / "pack.yaml"
    pack.write_text(PACK)
    res = cli("check", "--policy", str(pack), "--since", "2000-01-01", "--jobs", "1", "--json")
    assert "Traceback" not in res.stderr, res.stderr
    report = json.loads(res.stdout)
    return {r["run_id"]: {v["rule_id"]: v for v in r["verdicts"]} for r in report["runs"]}


def test_writer_dated_times_never_pass(cli: Any, tmp_path: Path) -> None:
    honest, _ = _run()
    old, _ = _run(wait_s=20)
    future, fm = _run()  # approval dated 2030: age -4 years passed max_age_seconds on main
    early, em = _run()  # approval dated a day before the run started
    late, lm = _run()  # approval dated after the call it approves, though recorded before it
    back, bm = _run()  # run.ended dated before run.started: no timeout could fire on main
    # approval decided 50 min before the refund, the call dated 1 s after the decision and
    # run.ended 2 s after run.started: inside [run start, recorded_at + skew], passed before
    # the record-lag bound (review 15, 3)
    stale, sm = _run(wait_s=3000)
    decided_ns = ids.parse_timestamp(str(sm["decided"].occurred_at))
    start = ids.parse_timestamp(str(em["started"].occurred_at))
    call_start = ids.parse_timestamp(str(lm["call"].occurred_at))
    runs = {
        "honest": _lines(honest, {}),
        "old": _lines(old, {}),
        "future": _lines(future, {str(fm["decided"].event_id): "2030-01-01T00:00:00Z"}),
        "early": _lines(early, {str(em["decided"].event_id): ids.format_timestamp(
            start - 86_400 * SEC)}),
        "late": _lines(late, {str(lm["decided"].event_id): ids.format_timestamp(
            call_start + 10 * SEC)}),
        "back": _lines(back, {str(bm["ended"].event_id): ids.format_timestamp(
            ids.parse_timestamp(str(bm["started"].occurred_at)) - 3600 * SEC)}),
        "stale": _lines(stale, {
            str(sm["call"].event_id): ids.format_timestamp(decided_ns + SEC),
            str(sm["ended"].event_id): ids.format_timestamp(
                ids.parse_timestamp(str(sm["started"].occurred_at)) + 2 * SEC)}),
    }
    by_id = {"honest": honest, "old": old, "future": future, "early": early, "late": late,
             "back": back, "stale": stale}
    got = _verdicts(cli, tmp_path, runs)
    v = {name: got[str(b.run_id)] for name, b in by_id.items()}

    assert {r: x["outcome"] for r, x in v["honest"].items()} == {
        "timeouts.overall_seconds": "pass", "approval.refund": "pass"}
    old_age = v["old"]["approval.refund"]
    assert old_age["outcome"] == "fail" and "old at execution, limit 10s" in old_age["explanation"]
    assert v["old"]["timeouts.overall_seconds"]["outcome"] == "pass"

    def unknown(name: str, rule: str, *words: str) -> None:
        verdict = v[name][rule]
        assert verdict["outcome"] == "unknown", verdict
        assert all(w in verdict["explanation"] for w in words), verdict

    decided = "approval age unknown: approval.decided appr1"
    unknown("future", "approval.refund", decided, "is dated 2030-01-01T00:00:00",
            "after the ledger recorded it", "+ 5s skew")
    unknown("early", "approval.refund", decided, "before the run started")
    unknown("late", "approval.refund", "after the call it approves started",
            "the log recorded it before")
    unknown("back", "timeouts.overall_seconds",
            f"run.ended {bm['ended'].event_id} is dated", "before the run started")
    assert v["back"]["approval.refund"]["outcome"] == "pass"  # the approval's times are fine
    lag = "before the ledger recorded it"
    unknown("stale", "approval.refund", "approval age unknown", "more than 60s", lag)
    unknown("stale", "timeouts.overall_seconds", "more than 60s", lag)
    # the attacker's evidence is named: the dated event's id
    assert str(fm["decided"].event_id) in v["future"]["approval.refund"]["evidence"]
    assert str(bm["ended"].event_id) in v["back"]["timeouts.overall_seconds"]["evidence"]


# --- the same bounds on in-memory folds (no database: fast) -------------------------------------


@dataclasses.dataclass(frozen=True)
class _Recorded:
    """A stored event with the sequencer's record time (what every database read carries)."""

    seq: int
    event: EventBase
    recorded_at: datetime | None


def _check(pack: str, b: RunBuilder, recorded_ns: int) -> dict[str, Verdict]:
    """Fold `b` as if the ledger recorded every event at `recorded_ns`, then check `pack`."""
    at = datetime.fromtimestamp(recorded_ns / SEC, UTC)
    state = fold([_Recorded(i, e, at) for i, e in enumerate(b.events)])
    return {v.rule_id: v for v in check_run(compile_pack(load_pack_text(pack, "p.yaml")), state)}


def _approved_then_run(lead_s: float) -> tuple[RunBuilder, int]:
    """A run whose approval is dated `lead_s` after the instant the ledger records it."""
    b = RunBuilder(start_ns=ids.now_ns() - 60 * SEC)
    b.start()
    b.approve("c1", "refund", ARGS, request=False)
    decided = ids.parse_timestamp(str(b.events[-1].occurred_at))
    b.tool("refund", ARGS, call_id="c1")
    b.end()
    return b, decided - int(lead_s * SEC)


def test_clock_skew_is_the_packs_setting() -> None:
    b, recorded = _approved_then_run(lead_s=3)  # dated 3 s ahead of its record, rest too
    assert _check(PACK, b, recorded)["approval.refund"].outcome == "pass"  # default skew 5 s
    tight = "defaults: {clock_skew_seconds: 1}\n" + PACK
    v = _check(tight, b, recorded)["approval.refund"]
    assert v.outcome == "unknown" and "+ 1s skew" in v.explanation, v


def test_durations_outside_the_bounds_are_never_facts() -> None:
    """A tool.call.ended dated before its start: the per-tool timeout and a CEL rule on the
    call's duration are unknown (on main the negative duration passed both)."""
    b = RunBuilder(start_ns=ids.now_ns() - 60 * SEC)
    b.start()
    cid = b.tool_start("search", {"q": 1})
    b.now -= 30 * SEC
    b.tool_end(cid, "search", seconds=0)
    b.end()
    pack = """\
timeouts: {per_tool_seconds: 2}
rules:
  - {id: quick, scope: tool_call, expr: "call.duration_seconds < 2.0"}
"""
    v = _check(pack, b, ids.now_ns())
    per_tool, quick = v["timeouts.per_tool_seconds"], v["rules.quick"]
    assert per_tool.outcome == "unknown" and "before the call started" in per_tool.explanation
    assert quick.outcome == "unknown", quick
