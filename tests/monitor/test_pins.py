"""`ledger verify --from-checkpoint FILE|latest-verified`: the pin, its consistency with the
current log, then only the new range; every way a pin can be wrong has its exact outcome."""

from __future__ import annotations

import orjson

from ledger.note import Checkpoint, Signer
from ledger.store.sequencer import log_signer
from tests.ledgerkit import attacker
from tests.monitor.conftest import PIN, SIZE, Grown, Main, write_pin


def test_a_pin_file_then_latest_verified(grown: Grown, main: Main, tmp_path) -> None:
    pin = write_pin(tmp_path, grown.pin)
    res = main("verify", "--from-checkpoint", str(pin))
    assert (res.exit_code, res.stdout) == (0, (
        "OK (incremental): 8 new events in 1 log(s), 2 new signed checkpoints verified; "
        f"sizes: {grown.origin} {PIN}→{SIZE}\n"
    ))
    kept = grown.settings.home / "verified"  # recorded outside the database
    assert [p.name for p in kept.glob("*.note")] == ["agent-ledger.local%2Fdefault.note"]
    res = main("verify", "--from-checkpoint", "latest-verified", "--json")
    assert res.exit_code == 0
    report = orjson.loads(res.stdout)
    assert (report["incremental"], report["events_verified"]) == ({grown.origin: [SIZE, SIZE]}, 0)


def test_latest_verified_without_state(grown: Grown, main: Main, tmp_path) -> None:
    res = main("verify", "--from-checkpoint", "latest-verified", "--state", str(tmp_path / "s"))
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr == (f"error: no verified checkpoint in {tmp_path / 's'}: "
                          "run `ledger verify` once first\n")


def test_a_full_verify_records_the_state(grown: Grown, main: Main, tmp_path) -> None:
    assert main("verify", "--state", str(tmp_path / "s")).exit_code == 0
    res = main("verify", "--from-checkpoint", "latest-verified", "--state", str(tmp_path / "s"))
    assert res.exit_code == 0 and f"sizes: {grown.origin} {SIZE}→{SIZE}" in res.stdout


def test_a_pin_from_a_different_log(grown: Grown, main: Main, tmp_path) -> None:
    other = Signer.generate(grown.settings.origin_prefix)
    note = other.sign_note(Checkpoint(grown.origin, PIN, b"\x07" * 32).body())
    res = main("verify", "--from-checkpoint", str(write_pin(tmp_path, note)))
    assert res.exit_code == 1
    assert res.stdout.startswith(
        "INVALID (pinned checkpoint): rewritten: the pinned checkpoint is signed by "
    )


def test_a_forged_note(grown: Grown, main: Main, tmp_path) -> None:
    body, _sep, sig = grown.pin.partition(b"\n\n")
    forged = body.replace(b"\n12\n", b"\n13\n") + b"\n\n" + sig
    path = write_pin(tmp_path, forged)
    res = main("verify", "--from-checkpoint", str(path))
    assert (res.exit_code, res.stdout) == (2, "")
    assert res.stderr.startswith(f"error: pinned checkpoint {path} is not valid: ")
    assert res.stderr.count("\n") == 1


def test_a_rewritten_root_at_the_pinned_size(grown: Grown, main: Main, tmp_path) -> None:
    note = log_signer(grown.settings).sign_note(Checkpoint(grown.origin, PIN, b"\x07" * 32).body())
    with attacker(grown.conn):  # someone holding the log key re-signs another history
        grown.conn.execute(
            "UPDATE ledger_checkpoints SET root_hash = %s, note = %s WHERE tree_size = %s",
            (b"\x07" * 32, note.decode(), PIN),
        )
    res = main("verify", "--from-checkpoint", str(write_pin(tmp_path, grown.pin)))
    assert (res.exit_code, res.stdout) == (1, (
        f"INVALID at seq 8 ({grown.origin}): equivocation: two different signed roots for "
        f"size {PIN} (the stored checkpoint and the pinned one)\n"
    ))


def test_a_truncated_log(grown: Grown, main: Main, tmp_path) -> None:
    with attacker(grown.conn):
        grown.conn.execute("DELETE FROM ledger_events WHERE seq >= 10")
        grown.conn.execute("DELETE FROM ledger_checkpoints WHERE tree_size > 8")
    res = main("verify", "--from-checkpoint", str(write_pin(tmp_path, grown.pin)), "--json")
    assert res.exit_code == 1
    report = orjson.loads(res.stdout)
    assert (report["verdict"], report["first_bad_seq"], report["reason"]) == (
        "truncated", 10,
        f"truncated: the log has 10 events but the pinned checkpoint has {PIN} "
        "(newest stored checkpoint: size 8)",
    )


def test_jobs_zero_and_jobs_with_from_checkpoint_are_one_line(grown: Grown, main: Main) -> None:
    res = main("verify", "--jobs", "0")
    assert (res.exit_code, res.stdout, res.stderr) == (
        2, "", "error: --jobs must be at least 1, not 0\n")
    res = main("verify", "--from-checkpoint", "latest-verified", "--jobs", "2")
    assert (res.exit_code, res.stdout, res.stderr) == (2, "", (
        "error: --from-checkpoint verifies only the new events in one process: drop --jobs\n"))
