"""`ledger check` with signed approvals judged by the registry, vs the same check without it.

What is timed is what `ledger check --policy P --trust-root F --since T` does over runs whose
approvals are all signed by an approver key registered in a signed, published registry: read,
fold, verify every approval's Ed25519 signature over the claim rebuilt from the record, look
roles up in the registry in force, apply a pack with every rule kind, save the verdicts.
Baseline, measured in the same run on the same runs: the same check with no trust root (the
registry is not read, signatures are not verified, the approval rules say `unknown`). The ratio
is the cost of proving who approved (issue 14 goal: >= 0.8). Runs are ~100 events with one
signed approval per ~20 events. Each timing is the best of `--repeat` alternating runs.
Usage: python bench/bench_approvals.py [--events N] [--jobs J] [--repeat R] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, fresh_settings
from bench.report import Report, parse_args
from ledger.authority.approvals import ApprovalClaim, sign_approval
from ledger.authority.registry import Registry
from ledger.authority.service import publish_registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.events import EventBase, args_hash, encode_event, leaf_hash
from ledger.note import Signer
from ledger.store.append import EncodedEvent, submit_encoded
from ledger.store.sequencer import try_sequence
from replay.batch import check_runs, window_run_ids
from replay.policy import load_pack_text
from replay.synth import RunBuilder

PACK = textwrap.dedent("""
    policy: {id: bench-approvals, version: "1"}
    max_total_tokens: 10000000
    max_tool_calls: 100000
    timeouts: {overall_seconds: 100000, per_tool_seconds: 60}
    budgets: {max_usd_per_run: 1000}
    policies:
      require_approval_for:
        - {action: refund, any: true, approver_roles: [finance_lead],
           forbid_self_approval: true, max_age_seconds: 900}
        - {action: send_email, any: true, approver_roles: [finance_lead]}
    tools: {allow: [search, refund, send_email]}
    recipients: [{tool: send_email, argument: to, allow_domains: [acme.com]}]
    egress: {tools: [send_email], pii: {detectors: [card, iban]}}
    models: {allow: ['gpt-5*']}
    loops: {max_identical_calls: 1000}
    capture: {}
""")
QUICK = {"events": 20_000}
T0 = 1_795_000_000 * 1_000_000_000


class Signing:
    """The administrator, the published registry and bob's approver key."""

    def __init__(self, settings: Settings) -> None:
        self.admin = Signer.generate("bench-admin")
        self.bob = Signer.generate("bench-bob")
        self.root = TrustRoot((self.admin.verifier,), "bench")
        self.origin = settings.origin(None)
        self.count = 0
        registry = Registry.model_validate({
            "registry": {"name": "bench", "version": 1},
            "principals": [{"id": "bob", "roles": ["finance_lead"], "approver_key": self.bob.vkey}],
        })
        conn = connect(settings)
        self.digest = publish_registry(
            conn, settings, sign_registry(registry, self.admin), self.root
        ).digest
        conn.close()

    def sign(self, b: RunBuilder, call: str, tool: str, args: Any) -> None:
        """Approve `call` as bob, signed, the way `ledger approve` does."""
        b.approve(call, tool, args)
        self.count += 1
        claim = ApprovalClaim(self.origin, b.run_id, call, tool, args_hash(args), "approved",
                              None, "bob", self.digest)
        signed = sign_approval(claim, self.bob)
        event = b.events[-1]
        fields = {"signature": signed.signature, "signing_key": signed.signing_key,
                  "tool": tool, "call_run_id": b.run_id, "registry_hash": self.digest}
        b.events[-1] = event.model_copy(update={"data": event.data.model_copy(update=fields)})


def one_run(signing: Signing, n_events: int) -> list[EventBase]:
    b = RunBuilder(start_ns=T0)
    rid = str(b.run_id)
    b.start()
    i = 0
    while len(b.events) < n_events - 8:
        b.llm(tokens=(200, 50), cost="0.001")
        b.tool("search", {"q": f"query {i}"}, result={"hits": i}, call_id=f"{rid}-s{i}")
        if i % 4 == 0:
            tool, args = (("refund", {"amount_usd": 250, "order": f"o-{i}"}) if i % 8 == 0
                          else ("send_email", {"to": "ops@acme.com", "body": f"status {i}"}))
            signing.sign(b, f"{rid}-c{i}", tool, args)
            b.tool(tool, args, call_id=f"{rid}-c{i}")
        i += 1
    b.end()
    return b.events


def fill(settings: Settings, signing: Signing, n_events: int) -> int:
    conn = connect(settings)
    origin = settings.origin(None)
    made, batch = 0, []
    while made < n_events:
        prev: str | None = None
        for e in one_run(signing, 100):
            body = encode_event(e.model_copy(update={"prev_run_hash": prev}))
            prev = leaf_hash(body).hex()
            batch.append(EncodedEvent(e.event_id, origin, uuid.UUID(str(e.run_id)), e.run_seq,
                                      body))
            made += 1
        if len(batch) >= 10_000:
            submit_encoded(conn, batch, check_canonical=False)
            try_sequence(conn, settings, wait=True)
            batch = []
    submit_encoded(conn, batch, check_canonical=False)
    try_sequence(conn, settings, wait=True)
    conn.execute("ANALYZE ledger_events")
    conn.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parse_args(parser, QUICK)
    report = Report("approvals")
    settings = fresh_settings("approvals")
    signing = Signing(settings)
    with Timer() as t_fill:
        made = fill(settings, signing, args.events)
    print(f"stored {made:,} events with {signing.count:,} signed approvals in "
          f"{t_fill.seconds:.1f}s (set-up, not timed)")
    conn = connect(settings)
    pack = load_pack_text(PACK, "bench.yaml")
    run_ids = window_run_ids(conn, None, None)
    best = {"baseline": float("inf"), "signed": float("inf")}
    outcomes: dict[str, set[str]] = {}
    events = 0
    for _ in range(args.repeat):
        for name, root in (("baseline", None), ("signed", signing.root)):
            with Timer() as t:
                result = check_runs(conn, settings, run_ids, fixed=pack, jobs=args.jobs,
                                    trust_root=root)
            best[name] = min(best[name], t.seconds)
            events = result.events
            outcomes[name] = {v.outcome for e in result.entries for v in e.verdicts
                              if v.rule_id.startswith("approval.")}
    conn.close()
    base_rate = report.add("check_no_trust_root", events / best["baseline"], "events/s")
    rate = report.add("check_signed_approvals", events / best["signed"], "events/s",
                      baseline=base_rate)
    print(f"ledger check, no trust root (baseline): {base_rate:,.0f} events/s; approval "
          f"verdicts {sorted(outcomes['baseline'])}")
    report.add("approvals_judged_per_s", signing.count / best["signed"], "approvals/s")
    print(f"ledger check, signed approvals verified: {rate:,.0f} events/s "
          f"({rate / base_rate:.2f}x of baseline, goal >= 0.8); approval verdicts "
          f"{sorted(outcomes['signed'])}; {len(run_ids):,} runs, {events:,} events, "
          f"jobs={args.jobs}")
    report.emit(args)


if __name__ == "__main__":
    main()
