"""Replay + full policy check throughput from PostgreSQL (events/s), and one 1,000-event run.

What is timed is what `ledger check --policy P --since T --until T` does: read every stored
event of the runs started in the window (plus approval decisions recorded in other runs), fold
each run, apply a pack that enables every rule kind (CEL included) and store the verdicts.
Baseline, measured in the same run: a bare COPY of the same rows out of PostgreSQL (the floor
for any reader). The ledger is filled fast: a few template runs are built with `RunBuilder`,
then cloned by substituting run ids, event ids and the run chain in their canonical bytes.
Runs are ~100 events: LLM calls with usage and cost, searches, messages, approved emails and
refunds (1 run in 10 has its refund approved from another process: a single-event run).
Usage: python bench/bench_replay.py [--events N] [--jobs J] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import textwrap
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
from psycopg import conninfo, sql

from bench.common import Timer, fresh_settings
from bench.report import Report, parse_args
from ledger import ids
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.events import EventBase, args_hash, encode_event, leaf_hash, make_event
from ledger.store.append import EncodedEvent, submit_encoded
from ledger.store.sequencer import try_sequence
from replay.batch import check_runs, window_run_ids
from replay.policy import compile_pack, load_pack_text
from replay.synth import RunBuilder

PACK = textwrap.dedent("""
    policy: {id: bench, version: "1"}
    max_total_tokens: 10000000
    max_tool_calls: 100000
    max_tool_calls_per_tool: {search: 100000}
    timeouts: {overall_seconds: 100000, per_tool_seconds: 60}
    budgets: {max_usd_per_run: 1000}
    policies:
      require_approval_for:
        - {action: refund, threshold_usd: 200, approver_roles: [finance_lead],
           forbid_self_approval: true, max_age_seconds: 900}
    tools: {allow: [search, refund, send_email], pinned: {refund: d1}}
    recipients: [{tool: send_email, argument: to, allow_domains: [acme.com]}]
    egress: {tools: [send_email], pii: {detectors: [card, iban]},
             secrets: {detectors: [aws_access_key]}}
    flows: [{id: taint, from: {tools: [search]}, to: {tools: [send_email]}}]
    models: {allow: ['gpt-5*']}
    loops: {max_identical_calls: 1000}
    capture: {}
    rules:
      - {id: budgeted, expr: "totals.cost_usd < 100.0 && principal.initiating_user != ''"}
""")
QUICK = {"events": 30_000}
T0 = 1_795_000_000 * 1_000_000_000
WINDOW = ("2026-11-18T00:00:00Z", "2026-11-19T00:00:00Z")  # contains T0
Template = list[tuple[bytes, str, int]]  # (canonical body, its run id text, run_seq)


def template_run(n_events: int, cross: bool, leak: bool = False) -> Template:
    """One realistic run of exactly `n_events` events.

    With `cross`, its refund is decided by a single-event run elsewhere (another process); with
    `leak`, one email goes to an outside domain (so some verdicts fail, as in real traffic).
    """
    b = RunBuilder(start_ns=T0)
    rid = str(b.run_id)
    b.start()
    i = 0
    decided: tuple[int, EventBase] | None = None
    while len(b.events) < n_events - 9:
        b.llm(tokens=(200, 50), cost="0.001")
        b.tool("search", {"q": f"query {i}"}, result={"hits": i}, call_id=f"{rid}-s{i}")
        b.message(f"note {i}", trust="trusted")
        if i % 25 == 0:
            to = "someone@gmail.com" if leak and i == 0 else "ops@acme.com"
            args = {"to": to, "body": f"status {i}"}
            cid = f"{rid}-m{i}"
            b.approve(cid, "send_email", args)
            b.tool("send_email", args, call_id=cid)
        if i == 5:
            refund: dict[str, Any] = {"amount_usd": 250, "order": f"o-{i}"}
            cid = f"{rid}-r{i}"
            if cross:
                b.approve(cid, "refund", refund, request=True)
                b.events.pop()  # the decision is recorded elsewhere instead
                decided = (
                    len(b.events),
                    make_event(
                        "approval.decided",
                        run_id=ids.new_id(),
                        run_seq=0,
                        occurred_at=ids.format_timestamp(b.now),
                        principal={"initiating_user": "bob", "roles": ["finance_lead"]},
                        data={
                            "approval_id": "ext",
                            "tool_call_id": cid,
                            "args_hash": args_hash(refund),
                            "decision": "approved",
                            "approver": {"id": "bob", "roles": ["finance_lead"]},
                        },
                    ),
                )
            else:
                b.approve(cid, "refund", refund)
            b.tool("refund", refund, call_id=cid, contract_digest="d1")
        i += 1
    while len(b.events) < n_events - 1:
        b.message(f"pad {len(b.events)}", trust="trusted")
    b.end()
    chained = _chain(b.events)
    out: Template = [(body, rid, e.run_seq) for e, body in zip(b.events, chained, strict=True)]
    if decided is not None:
        at, event = decided
        out.insert(at, (encode_event(event), str(event.run_id), 0))
    return out


def _chain(events: list[EventBase]) -> list[bytes]:
    prev: str | None = None
    bodies = []
    for e in events:
        body = encode_event(e.model_copy(update={"prev_run_hash": prev}))
        prev = leaf_hash(body).hex()
        bodies.append(body)
    return bodies


def clone(template: Template, origin: str) -> list[EncodedEvent]:
    """The template with fresh run and event ids and a recomputed run chain (same bytes else)."""
    fresh: dict[bytes, bytes] = {}
    prev: dict[bytes, tuple[bytes, bytes]] = {}  # run id -> (template leaf hex, new leaf hex)
    out: list[EncodedEvent] = []
    for tpl_body, rid_text, run_seq in template:
        rid = rid_text.encode()
        new_rid = fresh.setdefault(rid, str(uuid.uuid4()).encode())
        tpl_leaf = leaf_hash(tpl_body).hex().encode()
        event_id = ids.new_id()
        body = tpl_body.replace(_event_id_text(tpl_body), str(event_id).encode())
        for old, new in fresh.items():
            body = body.replace(old, new)
        if rid in prev:
            body = body.replace(prev[rid][0], prev[rid][1])
        prev[rid] = (tpl_leaf, leaf_hash(body).hex().encode())
        out.append(EncodedEvent(event_id, origin, uuid.UUID(new_rid.decode()), run_seq, body))
    return out


def _event_id_text(body: bytes) -> bytes:
    at = body.index(b'"event_id":"') + len(b'"event_id":"')
    return body[at : at + 36]


def fill(settings: Settings, n_events: int) -> tuple[int, str]:
    """Store ~n_events in runs of ~100 plus one 1,000-event run; return (stored, big run id)."""
    templates = [template_run(100, cross=k == 0, leak=k == 7) for k in range(10)]
    big = template_run(1000, cross=True)
    conn = connect(settings)
    batch: list[EncodedEvent] = []
    made = 0
    big_items = clone(big, settings.origin("default"))
    batch.extend(big_items)
    made += len(big_items)
    k = 0
    while made < n_events:
        items = clone(templates[k % len(templates)], settings.origin("default"))
        k += 1
        batch.extend(items)
        made += len(items)
        if len(batch) >= 20_000:
            submit_encoded(conn, batch, check_canonical=False)
            try_sequence(conn, settings, wait=True)
            batch = []
    submit_encoded(conn, batch, check_canonical=False)
    try_sequence(conn, settings, wait=True)
    conn.execute("ANALYZE ledger_events")
    conn.close()
    return made, str(big_items[0].run_id)


def _as_json(entry: Any) -> dict[str, Any]:
    """A checked run as `ledger check --json` shows it: check_runs returned that dict before
    issue 13 and a typed RunCheck (with `to_json`) after, so both trees can be compared."""
    return entry if isinstance(entry, dict) else dict(entry.to_json())


def _cpu() -> float:
    """CPU seconds of this process plus its reaped children (the check's worker processes)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", action="store_true", help="keep the throwaway database")
    args = parse_args(parser, QUICK)
    report = Report("replay")
    settings = fresh_settings("replay")
    with Timer() as t_fill:
        made, big_run = fill(settings, args.events)
    print(f"stored {made:,} events in {t_fill.seconds:.1f}s (set-up, not timed below)")
    report.add("fill", t_fill.seconds, "s", "lower")
    since, until = (datetime.fromisoformat(w.replace("Z", "+00:00")) for w in WINDOW)
    conn = connect(settings)
    loaded = load_pack_text(PACK, "bench.yaml")
    compiled = compile_pack(loaded)

    with Timer() as base:
        rows = 0
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY (SELECT run_id, seq, recorded_at, body FROM ledger_events "
                "ORDER BY run_id, run_seq) TO STDOUT (FORMAT BINARY)"
            ) as copy,
        ):
            for _ in copy:
                rows += 1
    copy_rate = report.add("copy_all_rows", rows / base.seconds, "events/s")
    print(
        f"baseline COPY of all stored rows: {rows / base.seconds:,.0f} events/s "
        f"({base.seconds:.2f}s)"
    )

    cpu0 = _cpu()
    with Timer() as t:
        run_ids = window_run_ids(conn, since, until)
        result = check_runs(conn, settings, run_ids, fixed=loaded, jobs=args.jobs)
    cpu = _cpu() - cpu0
    events = result.events
    rate = events / t.seconds
    entries = [_as_json(e) for e in result.entries]
    fails = sum(1 for r in entries for v in r["verdicts"] if v["outcome"] == "fail")
    report.add("check", rate, "events/s", baseline=copy_rate)
    report.add("check_per_cpu_s", events / cpu, "events/cpu-s")
    report.add("failing_verdicts", fails, "verdicts", "equal")
    print(
        f"replay + full policy check from PostgreSQL: {events:,} events in {t.seconds:.2f}s = "
        f"{rate:,.0f} events/s ({rate * base.seconds / rows:.2f}x of bare COPY); "
        f"{len(result.entries):,} runs, {len(compiled.checks)} rules, jobs={args.jobs}, "
        f"{fails:,} failing verdicts"
    )
    print(
        f"checker CPU (this process + workers, PostgreSQL not included): {cpu:.1f}s = "
        f"{events / cpu:,.0f} events per CPU-second; load average during the run "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    best = float("inf")
    for _ in range(5):
        with Timer() as one:
            single = check_runs(conn, settings, [uuid.UUID(big_run)], fixed=loaded, jobs=1)
        best = min(best, one.seconds)
    entry = _as_json(single.entries[0])
    non_pass = [v["rule_id"] for v in entry["verdicts"] if v["outcome"] != "pass"]
    report.add("one_1000_event_run", best * 1000, "ms", "lower")
    print(
        f"one {single.events}-event run from PostgreSQL: {best * 1000:.1f} ms (read + fold + "
        f"{len(entry['verdicts'])} rules + save verdicts; non-pass: {non_pass or 'none'})"
    )
    conn.close()
    if not args.keep:  # a 1M-event ledger is ~2 GB: do not leave it behind
        _drop(settings)
    report.emit(args)


def _drop(settings: Settings) -> None:
    dsn = settings.dsn or ""
    name = conninfo.conninfo_to_dict(dsn)["dbname"]
    admin = conninfo.make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(str(name))))


if __name__ == "__main__":
    main()
