"""`ledger check` with signed approvals judged by the registry, vs the same check without it;
then the same runs each carrying the initiating user's OIDC ID token, re-verified by the check.

What is timed is what `ledger check --policy P --trust-root F --since T` does over runs whose
approvals are all signed by an approver key registered in a signed, published registry: read,
fold, verify every approval's Ed25519 signature over the claim rebuilt from the record, look
roles up in the registry in force, apply a pack with every rule kind, save the verdicts.
Baseline, measured in the same run on the same runs: the same check with no trust root (the
registry is not read, signatures are not verified, the approval rules say `unknown`). The ratio
is the cost of proving who approved (issue 14 goal: >= 0.8). Runs are ~100 events with one
signed approval per ~20 events. With tokens, every run's `run.started` carries an RS256 ID
token behind a salted commitment (sealed with the subject key-encryption key), which the check
opens and verifies against the registry's JWKS snapshot: one token per run, cached key set, 20
users (each subject key is unwrapped once per check).
Each timing is the best of `--repeat` alternating runs.
Usage: python bench/bench_approvals.py [--events N] [--jobs J] [--repeat R] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import Timer, fresh_settings
from bench.report import Report, parse_args
from ledger.authority.approvals import ApprovalClaim, sign_approval
from ledger.authority.recorded import commit_tokens
from ledger.authority.registry import Registry
from ledger.authority.service import publish_registry
from ledger.authority.signed import sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.events import EventBase, args_hash, encode_event, leaf_hash
from ledger.note import Signer
from ledger.privacy import PayloadRow, seal_payloads
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
ISSUER = "https://idp.bench.test"
AUDIENCE = "agent-ledger:bench"
USERS = 20  # distinct users (token subjects, so subject keys) across the runs
T0 = 1_795_000_000 * 1_000_000_000


class Signing:
    """The administrator, the published registry, bob's approver key and the IdP's RSA key."""

    def __init__(self, settings: Settings) -> None:
        from joserfc.jwk import KeySet, RSAKey

        self.admin = Signer.generate("bench-admin")
        self.bob = Signer.generate("bench-bob")
        self.root = TrustRoot((self.admin.verifier,), "bench")
        self.origin = settings.origin(None)
        self.count = 0
        self.idp = RSAKey.generate_key(2048, parameters={"kid": "bench-idp"})
        provider = {"issuer": ISSUER, "audience": AUDIENCE, "algorithms": ["RS256"],
                    "jwks": KeySet([self.idp]).as_dict(private=False)}
        registry = Registry.model_validate({
            "registry": {"name": "bench", "version": 1, "logs": [self.origin]},
            "providers": [provider],
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


    def token(self, sub: str) -> str:
        """An RS256 ID token for the ledger's audience, valid for a day from now."""
        from joserfc import jwt

        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "email": f"{sub}@acme.com",
                  "iat": now, "exp": now + 86_400}
        return jwt.encode({"alg": "RS256", "kid": "bench-idp"}, claims, self.idp)


def one_run(
    signing: Signing, n_events: int, private: list[tuple[str, uuid.UUID, PayloadRow]] | None
) -> list[EventBase]:
    b = RunBuilder(start_ns=T0)
    rid = str(b.run_id)
    b.start()
    if private is not None:  # the user's ID token behind a commitment, as ledger.run stores it
        user = f"u{len(private) % USERS}"
        slot, rows = commit_tokens({"user": signing.token(user)}, time.time_ns())
        first = b.events[0]
        data = first.data.model_copy(update={"attributes": {"identity_tokens": slot}})
        b.events[0] = first.model_copy(update={"data": data})
        private += [(signing.origin, first.event_id, row) for row in rows]
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


def fill(settings: Settings, signing: Signing, n_events: int, *, tokens: bool = False) -> int:
    conn = connect(settings)
    origin = settings.origin(None)
    made, batch = 0, []
    private: list[tuple[str, uuid.UUID, PayloadRow]] | None = [] if tokens else None
    while made < n_events:
        prev: str | None = None
        for e in one_run(signing, 100, private):
            body = encode_event(e.model_copy(update={"prev_run_hash": prev}))
            prev = leaf_hash(body).hex()
            batch.append(EncodedEvent(e.event_id, origin, uuid.UUID(str(e.run_id)), e.run_seq,
                                      body))
            made += 1
        if len(batch) >= 10_000:
            _submit(conn, settings, batch, private)
            batch = []
    _submit(conn, settings, batch, private)
    try_sequence(conn, settings, wait=True)
    conn.execute("ANALYZE ledger_events")
    conn.close()
    return made


def _submit(conn: Any, settings: Settings, batch: list[EncodedEvent],
            private: list[tuple[str, uuid.UUID, PayloadRow]] | None) -> None:
    with conn.transaction():
        if private:
            seal_payloads(conn, settings, private)
            private.clear()
        submit_encoded(conn, batch, check_canonical=False)
    try_sequence(conn, settings, wait=True)


def _time_check(conn: Any, settings: Settings, pack: Any, root: TrustRoot | None,
                jobs: int) -> tuple[float, int, set[str]]:
    run_ids = window_run_ids(conn, None, None)
    with Timer() as t:
        result = check_runs(conn, settings, run_ids, fixed=pack, jobs=jobs, trust_root=root)
    found = {v.outcome for e in result.entries for v in e.verdicts
             if v.rule_id.startswith("approval.")}
    return t.seconds, result.events, found


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
    _with_tokens(args, report, pack, base_rate)
    report.emit(args)


def _with_tokens(args: Any, report: Report, pack: Any, base_rate: float) -> None:
    """The same shape of runs, each with its user's ID token, checked with the trust root."""
    settings = fresh_settings("approvals-tokens")
    signing = Signing(settings)
    made = fill(settings, signing, args.events, tokens=True)
    conn = connect(settings)
    best, events, found = float("inf"), 0, set()
    for _ in range(args.repeat):
        seconds, events, found = _time_check(conn, settings, pack, signing.root, args.jobs)
        best = min(best, seconds)
    runs = len(window_run_ids(conn, None, None))
    conn.close()
    rate = report.add("check_signed_and_tokens", events / best, "events/s", baseline=base_rate)
    print(f"ledger check, signed approvals + every run's ID token verified: {rate:,.0f} "
          f"events/s ({rate / base_rate:.2f}x of the no-trust-root baseline); {runs:,} tokens "
          f"in {made:,} events; approval verdicts {sorted(found)}")


if __name__ == "__main__":
    main()
