"""Name a history signed by a key outside the root of trust, instead of a generic "not valid".

Why: when someone with the host rewrites the log and re-signs every checkpoint with a key of their
own (after deleting or replacing the log key and `log.key.pub`), every note still parses and
carries a well-formed signature, just not by a key the root of trust (`keys/root.pub`, plus key
events endorsed from it, ledger.keyring) knows. That is not a corrupted note; it is a rewritten
or foreign history, and the auditor must be told so in those words: `rewritten_or_foreign_key`
(with `--pin`, whose checkpoint proves the earlier history existed: `rewritten`).
No database imports: ledger.verify passes the notes and keys in.
"""

from __future__ import annotations

from collections.abc import Sequence

from ledger.keyring import KeyRing
from ledger.keys import fingerprint
from ledger.note import Checkpoint, NoteError, Verifier, open_note, parse_note, trusted_names

__all__ = [
    "FOREIGN",
    "REWRITTEN",
    "checkpoint_failure",
    "foreign_signers",
    "pin_or_rewritten",
    "pinned_rewritten",
    "root_row_problem",
    "with_pin",
]

FOREIGN = "rewritten_or_foreign_key"
REWRITTEN = "rewritten"


def foreign_signers(note: bytes, verifiers: Sequence[Verifier]) -> str | None:
    """`name (key id)` of each signer when `note` parses but no trusted key signed it, else None.

    A note signed by a trusted key (even with a bad signature) or malformed is not "foreign":
    those keep their own verdicts.
    """
    try:
        body, sigs = parse_note(note)
    except (NoteError, ValueError):
        return None
    trusted = trusted_names(body, verifiers)
    if not sigs or any((s.name, s.key_id) in trusted for s in sigs):
        return None
    return ", ".join(f"{s.name} ({s.key_id.hex()})" for s in sigs)


def checkpoint_failure(note: str, verifiers: Sequence[Verifier], exc: Exception) -> tuple[str, str]:
    """(reason, verdict) for a stored checkpoint note that did not open with the trusted keys."""
    signers = foreign_signers(note.encode("utf-8"), verifiers)
    if signers is None:
        return str(exc), "bad_checkpoint"
    return (
        f"{FOREIGN}: no signature by a trusted key; signed by {signers}, a key outside the "
        "root of trust (history rewritten or re-signed with another key)",
        FOREIGN,
    )


def with_pin(reason: str, verdict: str | None, pinned: bool) -> tuple[str, str | None]:
    """With `--pin`, a foreign-signed history is reported as `rewritten` (the pin proves the
    earlier history was signed by the trusted key)."""
    if pinned and verdict == FOREIGN:
        return REWRITTEN + reason.removeprefix(FOREIGN), REWRITTEN
    return reason, verdict


def pin_or_rewritten(note: bytes, verifiers: Sequence[Verifier]) -> Checkpoint | str:
    """The pinned checkpoint, or the one-line `rewritten` reason when a foreign key signed it.

    A pin saved earlier was signed by the real log key; if the keys trusted now (for example a
    `log.key.pub` rewritten on the host, or `--trust` files) do not include that key, the log
    was rewritten with another key. Other problems raise NoteError as before.
    """
    signers = foreign_signers(note, verifiers)
    if signers is not None:
        return (
            f"{REWRITTEN}: the pinned checkpoint is signed by {signers}, which the trusted log "
            "keys do not include: the log was rewritten with another key"
        )
    return Checkpoint.parse(open_note(note, verifiers).body)


def pinned_rewritten(reason: str, json_out: bool) -> str:
    """`ledger verify --pin` output when the pin itself shows the log was re-keyed."""
    from ledger.verify_report import VerifyReport, dumps

    report = VerifyReport().fail("", None, reason, REWRITTEN)
    return dumps(report) if json_out else f"INVALID (pinned checkpoint): {reason}"


def root_row_problem(
    db_root: Verifier, local: Sequence[Verifier], ring: KeyRing | str
) -> str | None:
    """The `rewritten_or_foreign_key` reason when the host's trusted keys do not descend from the
    root of trust recorded in the database, else None.

    `local` is what the host's files make verify trust (`keys/root.pub`, or `log.key.pub` when
    root.pub is gone); `ring` is the key ring built from the database root alone (or the reason
    it could not be built: key events not endorsed by that root). A key reached by endorsed
    `key.rotated`/`key.announced` events from the database root is legitimate (rotation); any
    other key means the file side was swapped (root.pub deleted or replaced, a planted key) or
    the database side was, and one side alone must not be able to do that.
    """
    strays = [v for v in local if isinstance(ring, str) or ring.window(v) is None]
    if not strays:
        return None
    why = f" ({ring})" if isinstance(ring, str) else ""
    return (
        f"{FOREIGN}: the root of trust recorded in the database is {fingerprint(db_root)}, but "
        f"this host trusts {', '.join(fingerprint(v) for v in strays)}, which no key event "
        f"endorsed from that root leads to{why}: keys/root.pub or the log key was deleted or "
        "replaced (or the database root was): history rewritten or re-signed with another key"
    )
