"""Negative corpus for reference/ledgers.md §6 (the attacks tests/pg/test_tamper.py does not cover).

Each test applies one attack to a real PostgreSQL ledger (or to a proof document) and asserts the
exact verdict code and first bad seq. The attacker holds the superuser password; where an attack
needs the log key (key compromise), the test says so.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.canonical import CanonicalError
from ledger.config import Settings
from ledger.events import leaf_hash
from ledger.merkle import CompactRange
from ledger.note import Checkpoint, Signer
from ledger.proofcheck import ProofInvalid, check_document
from ledger.proofs import consistency_doc, inclusion_doc
from ledger.store.append import EncodedEvent, submit, submit_encoded
from ledger.store.sequencer import log_signer, try_sequence
from ledger.verify import VerifyReport, load_pin, trusted_verifiers, verify_ledger
from ledger.witness import Witness, WitnessRefused
from tests.ledgerkit import (
    append_one_per_checkpoint,
    attacker,
    chained_run,
)

pytestmark = pytest.mark.usefixtures("bulk_pass_agrees")


@pytest.fixture
def ledger(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> psycopg.Connection:
    """Two runs of 8 events (seq 0..15), one signed checkpoint per size."""
    append_one_per_checkpoint(ledger_conn, ledger_settings, chained_run(3) + chained_run(3))
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"
    return ledger_conn


def verdict(report: VerifyReport) -> tuple[str, str | None, int | None]:
    return report.status, report.verdict, report.first_bad_seq


def note_at(conn: psycopg.Connection, size: int) -> bytes:
    row = conn.execute(
        "SELECT note FROM ledger_checkpoints WHERE tree_size = %s", (size,)
    ).fetchone()
    assert row is not None
    return str(row[0]).encode()


def pin_file(conn: psycopg.Connection, tmp_path: Path, size: int) -> Path:
    path = tmp_path / f"pin-{size}.note"
    path.write_bytes(note_at(conn, size))
    return path


def truncate_to(conn: psycopg.Connection, size: int, *, checkpoints: bool) -> None:
    with attacker(conn):
        conn.execute("DELETE FROM ledger_events WHERE seq >= %s", (size,))
        if checkpoints:
            conn.execute("DELETE FROM ledger_checkpoints WHERE tree_size > %s", (size,))


def fork_checkpoint(settings: Settings, size: int, tag: bytes = b"fork") -> bytes:
    """A checkpoint of `size` over a different history, signed with the (stolen) log key."""
    tree = CompactRange.from_leaf_hashes(leaf_hash(tag + bytes([i % 256])) for i in range(size))
    return log_signer(settings).sign_note(Checkpoint(settings.origin(), size, tree.root()).body())


# ---------------------------------------------------------------- #5 delete + renumber
def test_5_delete_and_renumber(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_events WHERE seq = 5")
        ledger.execute("UPDATE ledger_events SET seq = seq - 1 WHERE seq > 5")
    report = verify_ledger(ledger, ledger_settings)
    assert verdict(report) == ("invalid", "chain_break", 5)
    assert "run chain break at seq 5" in (report.reason or "")


# ---------------------------------------------------------------- #11 replayed old checkpoint
def test_11_replayed_checkpoint_with_events_kept(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    pin = load_pin(pin_file(ledger, tmp_path, 16), trusted_verifiers(ledger_settings))
    with attacker(ledger):
        ledger.execute("DELETE FROM ledger_checkpoints WHERE tree_size > 10")
    assert verdict(verify_ledger(ledger, ledger_settings)) == ("invalid", "unpublished_tail", 10)
    report = verify_ledger(ledger, ledger_settings, pin=pin)
    assert verdict(report) == ("invalid", "replayed_checkpoint", 10)
    assert "newest stored checkpoint has size 10 < pinned size 16" in (report.reason or "")


def test_11_truncated_with_checkpoints_needs_outside_state(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    pin = load_pin(pin_file(ledger, tmp_path, 16), trusted_verifiers(ledger_settings))
    truncate_to(ledger, 10, checkpoints=True)
    assert verify_ledger(ledger, ledger_settings).status == "ok"  # DB-only cannot see this
    report = verify_ledger(ledger, ledger_settings, pin=pin)
    assert verdict(report) == ("invalid", "truncated", 10)
    assert "newest stored checkpoint: size 10" in (report.reason or "")


def test_11_witness_refuses_replayed_checkpoint(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    witness = Witness(tmp_path / "w")
    witness.add_log(ledger_settings.origin(), [log_signer(ledger_settings).vkey])
    witness.cosign(note_at(ledger, 16), [])
    with pytest.raises(WitnessRefused) as refused:
        witness.cosign(note_at(ledger, 10), [])
    assert refused.value.code == "stale"
    assert "older than the cosigned size 16" in str(refused.value)


# ---------------------------------------------------------------- #12 / #13 equivocation
def test_12_witness_detects_equivocation_and_fork(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    witness = Witness(tmp_path / "w")
    witness.add_log(ledger_settings.origin(), [log_signer(ledger_settings).vkey])
    witness.cosign(note_at(ledger, 16), [])
    with pytest.raises(WitnessRefused) as same_size:
        witness.cosign(fork_checkpoint(ledger_settings, 16), [])
    assert same_size.value.code == "equivocation"
    assert (tmp_path / "w" / "evidence").is_dir()
    # a bigger forked tree with a proof that does not link it to what the witness saw
    bogus = consistency_doc(ledger, ledger_settings.origin(), 8, 16)["proof"]
    with pytest.raises(WitnessRefused) as fork:
        witness.cosign(fork_checkpoint(ledger_settings, 20), [bytes.fromhex(h) for h in bogus])
    assert fork.value.code == "inconsistent"
    latest = witness.latest(ledger_settings.origin())
    assert latest is not None and latest[0] == 16


def test_13_split_view_detected_by_pin(
    ledger: psycopg.Connection, ledger_settings: Settings, tmp_path: Path
) -> None:
    fork = tmp_path / "auditor-b.note"
    fork.write_bytes(fork_checkpoint(ledger_settings, 12))
    report = verify_ledger(
        ledger, ledger_settings, pin=load_pin(fork, trusted_verifiers(ledger_settings))
    )
    assert verdict(report) == ("invalid", "equivocation", 11)


# ---------------------------------------------------------------- #14 malicious proofs
@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["proof"].pop(), "wrong proof length"),
        (lambda d: d["proof"].append(d["proof"][0]), "wrong proof length"),
        (lambda d: d["proof"].__setitem__(slice(0, 2), d["proof"][1::-1]), "does not match root"),
        (lambda d: d.__setitem__("tree_size", d["tree_size"] - 1), "proof is for tree size"),
        (lambda d: d.__setitem__("seq", d["seq"] + 1), "inclusion proof"),
        (lambda d: d.__setitem__("leaf_hash", "00" * 32), "leaf_hash does not match"),
    ],
    ids=["short", "long", "swapped-siblings", "other-size", "other-index", "other-leaf"],
)
def test_14_malicious_inclusion_proofs(
    ledger: psycopg.Connection, ledger_settings: Settings, mutate: Any, message: str
) -> None:
    event_id = ledger.execute("SELECT event_id FROM ledger_events WHERE seq = 6").fetchone()[0]  # type: ignore[index]
    doc = inclusion_doc(ledger, event_id)
    verifiers = trusted_verifiers(ledger_settings)
    assert check_document(doc, verifiers).details["seq"] == 6
    bad = copy.deepcopy(doc)
    mutate(bad)
    with pytest.raises(ProofInvalid, match=message):
        check_document(bad, verifiers)


def test_14_consistency_proof_for_another_size(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    verifiers = trusted_verifiers(ledger_settings)
    doc = consistency_doc(ledger, ledger_settings.origin(), 5, 16)
    other = consistency_doc(ledger, ledger_settings.origin(), 6, 16)
    bad = {**doc, "proof": other["proof"]}
    with pytest.raises(ProofInvalid, match="invalid consistency proof 5->16"):
        check_document(bad, verifiers)
    bad = {**doc, "old_root": other["old_root"], "old_checkpoint": None}
    with pytest.raises(ProofInvalid, match="invalid consistency proof"):
        check_document(bad, verifiers)


# ---------------------------------------------------------------- #15 identity / key tricks
def test_15_proof_origin_mismatch(ledger: psycopg.Connection, ledger_settings: Settings) -> None:
    event_id = ledger.execute("SELECT event_id FROM ledger_events WHERE seq = 0").fetchone()[0]  # type: ignore[index]
    doc = {**inclusion_doc(ledger, event_id), "origin": "agent-ledger.local/other"}
    with pytest.raises(ProofInvalid, match="origin mismatch"):
        check_document(doc, trusted_verifiers(ledger_settings))


@pytest.mark.parametrize("trick", ["unknown-key", "non-canonical-root", "other-origin"])
def test_15_checkpoint_identity_tricks(
    ledger: psycopg.Connection, ledger_settings: Settings, trick: str
) -> None:
    row = ledger.execute(
        "SELECT root_hash, note FROM ledger_checkpoints WHERE tree_size = 9"
    ).fetchone()
    cp = Checkpoint(ledger_settings.origin(), 9, bytes(row[0]))  # type: ignore[index]
    if trick == "unknown-key":
        note = Signer.generate(ledger_settings.origin_prefix).sign_note(cp.body())
    elif trick == "non-canonical-root":
        body = cp.body().replace(b"=\n", b"\n", 1) if b"=\n" in cp.body() else cp.body() + b"\n"
        note = log_signer(ledger_settings).sign_note(body)
    else:
        note = log_signer(ledger_settings).sign_note(
            Checkpoint("agent-ledger.local/x", 9, cp.root).body()
        )
    with attacker(ledger):
        ledger.execute(
            "UPDATE ledger_checkpoints SET note = %s WHERE tree_size = 9", (note.decode(),)
        )
    report = verify_ledger(ledger, ledger_settings)
    # A well-formed note signed only by a key outside the root of trust is named (issue 15).
    named = "rewritten_or_foreign_key" if trick == "unknown-key" else "bad_checkpoint"
    assert verdict(report) == ("invalid", named, 8)
    assert report.reason and report.reason.startswith("checkpoint at size 9:")


# ---------------------------------------------------------------- #17 non-canonical body
@pytest.mark.parametrize(
    "body",
    [b'{"a":1,"a":2}', b'{"b":1, "a":2}', b'{"a":1.0}', b'{"a":"\\u00e9"}'],
    ids=["duplicate-key", "order-and-space", "number-form", "escape"],
)
def test_17_non_canonical_body_refused_at_intake(
    ledger_conn: psycopg.Connection, body: bytes
) -> None:
    item = EncodedEvent(uuid.uuid4(), "agent-ledger.local/default", uuid.uuid4(), 0, body)
    with pytest.raises(CanonicalError):
        submit_encoded(ledger_conn, [item])
    assert ledger_conn.execute("SELECT count(*) FROM ledger_intake").fetchone() == (0,)


# ---------------------------------------------------------------- #19 trigger disabled / DDL
def test_19_trigger_disabled_then_edit(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    ledger.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
    body = bytes(ledger.execute("SELECT body FROM ledger_events WHERE seq = 3").fetchone()[0])  # type: ignore[index]
    ledger.execute(
        "UPDATE ledger_events SET body = %s WHERE seq = 3", (body.replace(b"crm", b"crx"),)
    )
    assert verdict(verify_ledger(ledger, ledger_settings)) == ("invalid", "leaf_mismatch", 3)


def test_19_table_dropped_and_recreated(
    ledger: psycopg.Connection, ledger_settings: Settings
) -> None:
    ledger.execute("CREATE TABLE saved AS SELECT * FROM ledger_events WHERE seq <> 7")
    ledger.execute("DROP TABLE ledger_events CASCADE")
    ledger.execute("CREATE TABLE ledger_events AS SELECT * FROM saved")
    ledger.execute("UPDATE ledger_events SET seq = seq - 1 WHERE seq > 7")
    report = verify_ledger(ledger, ledger_settings)  # seq 7 ended run 1, so no chain break:
    assert verdict(report) == ("invalid", "root_mismatch", 7)  # the signed root catches it


# ---------------------------------------------------------------- #20 acknowledged write lost
def test_20_acknowledged_write_disappears(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    from ledger.proofs import check_receipts

    run = chained_run(1)
    receipts = submit(ledger_conn, run, ledger_settings)
    with attacker(ledger_conn):
        ledger_conn.execute("DELETE FROM ledger_intake WHERE event_id = %s", (run[3].event_id,))
    try_sequence(ledger_conn, ledger_settings, wait=True)
    assert verify_ledger(ledger_conn, ledger_settings).status == "ok"  # the log itself is fine
    missing = check_receipts(ledger_conn, receipts)
    assert missing == [(run[3].event_id, "acknowledged event missing")]


# ---------------------------------------------------------------- #23 two sequencers
def test_23_two_sequencers_never_fork(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    import threading

    from ledger.db.connect import connect

    for _ in range(30):
        submit(ledger_conn, chained_run(2), ledger_settings)
    conns = [connect(ledger_settings) for _ in range(2)]
    threads = [
        threading.Thread(target=try_sequence, args=(c, ledger_settings), kwargs={"wait": True})
        for c in conns
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in conns:
        c.close()
    report = verify_ledger(ledger_conn, ledger_settings)
    assert (report.status, report.events_verified) == ("ok", 180)
    sizes = [
        r[0]
        for r in ledger_conn.execute("SELECT tree_size FROM ledger_checkpoints ORDER BY created_at")
    ]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
