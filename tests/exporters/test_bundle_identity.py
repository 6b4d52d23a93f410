"""The bundle discloses the recorded identity tokens, and the offline verifier proves who
started each run from them.

A real ledger (PostgreSQL) with a registry (signed by an administrator key outside the ledger
home) naming a real JOSE provider (keys served over loopback HTTP) and the person dana (u-123).
Runs are recorded through the hooks with a user token: a genuine one for dana, one issued for
another audience, and one whose subject is then erased. The bundle is written by the real
`ledger export` and judged by the real `ledger verify-bundle --trust-root`. Attacks are written
from the exporter's side: a disclosure moved onto another run makes the bundle INVALID at its row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
from joserfc.jwk import Key

import ledger.hooks as hooks
from ledger import ids
from ledger.authority.registry import Provider
from ledger.authority.service import publish_registry
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot
from ledger.config import Settings
from ledger.errors import ExitCode
from ledger.hooks import configure, shutdown
from ledger.keys import load_or_create_signer
from ledger.privacy import redact_subject
from ledger.store.sequencer import try_sequence
from tests.authority.conftest import signed
from tests.authority.jose_kit import ISS, claims, sign

Cli = Callable[..., Any]
TOKENS = "identity/tokens.jsonl"
AUDIENCE = "user: token refused: token audience 'some-other-app' does not include " \
    "'agent-ledger:acme'"


def _token(keys: dict[str, Key], alg: str = "RS256", **over: Any) -> str:
    now = int(time.time())
    return sign(keys[alg], alg, claims(iat=now - 5, exp=now + 600, **over))


@pytest.fixture
def world(
    cli: Cli, keys: dict[str, Key], provider: Provider, ledger_conn: psycopg.Connection,
    ledger_settings: Settings, tmp_path: Path,
) -> Iterator[dict[str, Any]]:
    """The ledger with a registry in force, three runs with user tokens, and the erasure."""
    admin = load_or_create_signer(tmp_path / "admin" / "sec-admin.key", "sec-admin")
    root_file = tmp_path / "admin" / "sec-admin.key.pub"
    dana = {"id": "dana@example.com", "identities": [{"issuer": ISS, "subject": "u-123"}]}
    publish_registry(ledger_conn, ledger_settings,
                     signed(admin, providers=[provider.model_dump()], principals=[dana]),
                     TrustRoot.read(root_file))
    since = ids.format_timestamp(time.time_ns())
    writer = configure(ledger_settings, sequence=True, retry_interval=0.05,
                       sequence_interval=0.0)
    tokens = {
        "genuine": _token(keys, "EdDSA"),
        "other audience": _token(keys, aud="some-other-app"),
        "erased": _token(keys, sub="u-999", email=None),
    }
    runs: dict[str, str] = {}
    try:
        for case, token in tokens.items():
            with hooks.run(agent="support-bot", user="mallory", user_token=token) as run:
                run.custom("note")
            runs[case] = str(run.run_id)
        assert writer.flush()
    finally:
        shutdown()
    redact_subject(ledger_conn, ledger_settings, "u-999", "GDPR art. 17")
    try_sequence(ledger_conn, ledger_settings, wait=True)
    until = ids.format_timestamp(time.time_ns() + 3600 * 10**9)

    def export(name: str, *extra: str) -> Path:
        out = tmp_path / name
        res = cli("export", "--since", since, "--until", until, "--out", str(out), "--no-record",
                  *extra)
        assert res.exit_code == 0, res.stderr
        return out

    yield {"root_file": root_file, "runs": runs, "tokens": tokens, "export": export,
           "trust": str(ledger_settings.log_key_path.with_name("log.key.pub"))}


def _started(out: Path) -> dict[str, int]:
    table = pq.read_table(out / "ledger/events.parquet", columns=["seq", "run_id", "type"])
    cols = [table.column(c).to_pylist() for c in table.column_names]
    return {run: seq for seq, run, kind in zip(*cols, strict=True) if kind == "run.started"}


def _verify(cli: Cli, world: dict[str, Any], out: Path, *extra: str) -> tuple[int, Any]:
    res = cli("verify-bundle", str(out), "--trust-root", str(world["root_file"]), "--json",
              "--trust", world["trust"], *extra)
    return res.exit_code, json.loads(res.stdout)


def test_disclosed_tokens_prove_who_started_each_run_offline(
    cli: Cli, world: dict[str, Any]
) -> None:
    out = world["export"]("bundle")
    seqs, runs = _started(out), world["runs"]
    rows = [json.loads(r) for r in (out / TOKENS).read_text().splitlines()]
    assert sorted((r["seq"], r["role"], r["token"]) for r in rows) == sorted([
        (seqs[runs["genuine"]], "user", world["tokens"]["genuine"]),
        (seqs[runs["other audience"]], "user", world["tokens"]["other audience"]),
    ])  # the erased subject's token is simply absent
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity_tokens"] == {"file": TOKENS, "tokens": 3, "disclosed": 2,
                                           "erased": 1, "withheld": 0}
    code, report = _verify(cli, world, out)
    assert code == 0 and report["valid"] is True and report["problems"] == []
    auth = report["authority"]
    assert auth["status"] == "FINDINGS"
    ident = auth["identities"]
    assert (ident["tokens"], ident["verified"], ident["asserted"], ident["not_disclosed"],
            ident["erased"]) == (3, 1, 1, 0, 1)
    assert sorted((f["seq"], f["role"], f["status"], f["reason"]) for f in ident["findings"]) \
        == sorted([
            (seqs[runs["other audience"]], "user", "asserted", AUDIENCE),
            (seqs[runs["erased"]], "user", "erased", "user: its identity token was erased"),
        ])
    human = cli("verify-bundle", str(out), "--trust-root", str(world["root_file"]),
                "--trust", world["trust"])
    lines = human.stdout.splitlines()
    assert lines[1].endswith("; identity tokens: 3: 1 verified, 1 asserted, 0 not disclosed, "
                             "1 erased"), lines[1]
    assert f"  seq {seqs[runs['other audience']]} identity user: asserted: {AUDIENCE}" in lines


def test_a_disclosure_moved_onto_another_run_makes_the_bundle_invalid_at_its_row(
    cli: Cli, world: dict[str, Any]
) -> None:
    """The exporter hands over the genuine token (with its own salt and commitment) as if it
    belonged to the run that recorded the other-audience token: the recomputed commitment is
    genuine, but not the one that run.started holds."""
    out = world["export"]("bundle")
    seqs, runs = _started(out), world["runs"]
    path = out / TOKENS
    rows = [json.loads(r) for r in path.read_text().splitlines()]
    genuine = next(r for r in rows if r["seq"] == seqs[runs["genuine"]])
    victim = next(i for i, r in enumerate(rows) if r["seq"] == seqs[runs["other audience"]])
    rows[victim] = {**genuine, "seq": rows[victim]["seq"], "event_id": rows[victim]["event_id"]}
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, report = _verify(cli, world, out)
    assert code == 1 and report["valid"] is False
    assert {"file": TOKENS, "row": victim + 1, "seq": seqs[runs["other audience"]],
            "reason": "disclosure does not bind: commitment is not the one the run.started "
                      "body holds for user"} in report["problems"]
    # and the moved token proves nothing for that run: it is not counted as verified there
    assert report["authority"]["identities"]["verified"] == 1


def test_a_disclosure_whose_token_was_swapped_does_not_recompute(
    cli: Cli, world: dict[str, Any]
) -> None:
    out = world["export"]("bundle")
    seqs, runs = _started(out), world["runs"]
    path = out / TOKENS
    rows = [json.loads(r) for r in path.read_text().splitlines()]
    victim = next(i for i, r in enumerate(rows) if r["seq"] == seqs[runs["other audience"]])
    rows[victim]["token"] = world["tokens"]["genuine"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, report = _verify(cli, world, out)
    assert code == 1
    assert {"file": TOKENS, "row": victim + 1, "seq": seqs[runs["other audience"]],
            "reason": "disclosure does not bind: salt, path and token do not recompute the "
                      "disclosed commitment"} in report["problems"]


def test_no_identity_tokens_leaves_them_out_and_reports_not_disclosed(
    cli: Cli, world: dict[str, Any]
) -> None:
    out = world["export"]("withheld", "--no-identity-tokens")
    seqs, runs = _started(out), world["runs"]
    assert not (out / TOKENS).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["identity_tokens"] == {"file": None, "tokens": 3, "disclosed": 0,
                                           "erased": None, "withheld": 3}
    code, report = _verify(cli, world, out)
    assert code == 0 and report["valid"] is True
    ident = report["authority"]["identities"]
    assert (ident["verified"], ident["asserted"], ident["not_disclosed"], ident["erased"]) == (
        0, 0, 3, 0)
    assert sorted((f["seq"], f["status"], f["reason"]) for f in ident["findings"]) == sorted(
        (seqs[run], "not_disclosed", "user: token not disclosed") for run in runs.values()
    )
    assert report["authority"]["status"] == "FINDINGS"


def test_without_a_trust_root_identities_are_untrusted(cli: Cli, world: dict[str, Any]) -> None:
    out = world["export"]("bundle")
    res = cli("verify-bundle", str(out), env={"LEDGER_TRUST_ROOT": ""})
    assert res.exit_code == ExitCode.UNTRUSTED, res.stdout  # issue 15: no --trust, never 0
    assert res.stdout.splitlines()[1] == (
        f"authority: UNTRUSTED: 0 approval(s), 3 identity token(s) not judged: {NO_TRUST_ROOT}"
    )


def test_a_dropped_disclosure_is_caught_by_the_signed_count(
    cli: Cli, world: dict[str, Any]
) -> None:
    """Leaving a (say, embarrassing) token out would pass it off as erased: the manifest's
    count of erased tokens says otherwise."""
    out = world["export"]("bundle")
    path = out / TOKENS
    rows = path.read_text().splitlines()
    path.write_text("".join(r + "\n" for r in rows[1:]))
    code, report = _verify(cli, world, out)
    assert code == 1
    assert {"file": TOKENS, "row": None, "seq": None,
            "reason": "2 recorded token(s) of the period are not disclosed, the manifest counts "
                      "1 erased"} in report["problems"]

