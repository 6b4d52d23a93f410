"""The verifier's state across `ledger keys rotate` (WALK20 5).

The state is written by verify and the monitor themselves, each note signed by the key in force;
it is re-opened with the key ring the log endorses (the root plus endorsed rotations), as full
verify judges stored checkpoints. So a rotation between two verifies is not `rewritten`, while
a note signed by a key the log never endorsed, or by the retired key after it was retired, is.
"""

from __future__ import annotations

from pathlib import Path

from ledger.note import Checkpoint, Signer
from ledger.store.logkey import log_signer
from ledger.store.read import latest_checkpoint
from tests.monitor.conftest import Grown, Main, write_pin


def test_a_rotation_between_two_verifies_is_not_a_rewrite(
    grown: Grown, main: Main, tmp_path: Path
) -> None:
    old = log_signer(grown.settings, grown.conn)
    assert main("verify").exit_code == 0
    assert main("keys", "rotate", "--reason", "scheduled").exit_code == 0
    assert main("verify").exit_code == 0  # keeps the new note, signed by the new key
    res = main("verify", "--from-checkpoint", "latest-verified")
    assert (res.exit_code, res.stderr) == (0, "")
    assert res.stdout.startswith("OK (incremental): 0 new events in 1 log(s)")
    res = main("monitor", "--once")
    assert (res.exit_code, res.stderr) == (0, "")
    newest = latest_checkpoint(grown.conn, grown.origin)
    assert newest is not None
    pin = write_pin(tmp_path, (grown.settings.home / "verified" /
                               "agent-ledger.local%2Fdefault.note").read_bytes())
    assert main("verify", "--pin", str(pin)).exit_code == 0  # --pin: the same ring
    stale = old.sign_note(Checkpoint(grown.origin, newest.tree_size, newest.root_hash).body())
    res = main("verify", "--from-checkpoint", str(write_pin(tmp_path, stale, "old.note")))
    assert res.exit_code == 1
    assert res.stdout == (
        f"INVALID (pinned checkpoint): rewritten: the pinned checkpoint is signed by "
        f"{old.name} ({old.key_id.hex()}), a log key not valid at size {newest.tree_size}: "
        "the log was rewritten with another key\n")


def test_a_state_signed_by_a_foreign_key_is_one_clean_tamper_line(
    grown: Grown, main: Main
) -> None:
    assert main("verify").exit_code == 0
    kept = grown.settings.home / "verified" / "agent-ledger.local%2Fdefault.note"
    other = Signer.generate(grown.settings.origin_prefix)
    kept.write_bytes(other.sign_note(Checkpoint(grown.origin, 20, b"\x07" * 32).body()))
    res = main("monitor", "--once")
    assert res.exit_code == 1
    assert res.stdout == (f"monitor: verified 0 new events (stopped at the tamper in "
                          f"{grown.origin}); re-sampled 0 old entries\n")
    assert res.stderr.startswith(
        f"monitor: TAMPER in {grown.origin} (incremental): rewritten: the pinned checkpoint is "
        f"signed by {other.name} ({other.key_id.hex()}), which the trusted log keys do not "
        "include")
    assert res.stderr.count("rewritten:") == 1 and res.stderr.count("\n") == 1
