"""`ledger verify`'s check of the sequencer's stamps: who submitted each event, and when it was
recorded, recomputed against the heads the log key signed (ledger.stamps).

`submitted_by` and `recorded_at` are columns the sequencer writes, outside the hashed body, so
the Merkle checks cannot see them change. Every checkpoint since migration 0009 carries a signed
stamp note; this re-folds the stored columns in seq order and compares the head at every
checkpoint size, naming the seqs between the last matching checkpoint and the first that does
not (one seq when that batch held one event). Events sequenced before stamping began are
reported as unstamped, not tampered; a stamp on such an event, a checkpoint without a stamp note
after stamping began, or a stamped event no note covers are tampering.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from ledger.note import NoteError, Verifier, open_note
from ledger.stamps import EMPTY_HEAD, StampNote, fold
from ledger.store.stamps import first_stamped_before, stamp_notes, stamp_rows
from ledger.verify_rows import Invalid

__all__ = ["check_stamps"]


def _heads(
    origin: str, notes: list[tuple[int, str | None]], verifiers: Sequence[Verifier], first: int
) -> tuple[int, dict[int, bytes]]:
    """The chain start and the signed head at every stamped checkpoint size (`notes` are those
    of the checkpoints of at least `first` leaves)."""
    start: int | None = None
    heads: dict[int, bytes] = {}
    previous = first
    for size, note in notes:
        if note is None:
            if start is not None:
                raise Invalid(previous, f"checkpoint at size {size} has no stamp note "
                              f"although stamping began at seq {start}", "stamp_missing")
            previous = size
            continue
        try:
            parsed = StampNote.parse(open_note(note.encode("utf-8"), verifiers).body)
        except (NoteError, ValueError, UnicodeDecodeError) as exc:
            raise Invalid(previous, f"stamp note at size {size}: {exc}", "bad_stamp_note") from None
        if parsed.origin != origin or parsed.size != size or start not in (None, parsed.start):
            raise Invalid(previous, f"stamp note at size {size}: origin, size or start do not "
                          "match the checkpoint", "bad_stamp_note")
        start = parsed.start
        heads[size] = parsed.head
        previous = size
    return (previous if start is None else start), heads


def _seqs(first: int, last: int) -> str:
    return f"seq {first}" if first == last else f"seq {first}..{last}"


def check_stamps(
    conn: psycopg.Connection,
    origin: str,
    verifiers: Sequence[Verifier],
    size: int,
    start: int = 0,
) -> int:
    """Raise Invalid at the first tampered stamp; return how many events are unstamped.

    From `start` (an incremental verify, ledger.verify_from), only the notes of checkpoints of
    at least `start` leaves and the rows from `start` are read: the fold resumes at the head
    signed at size `start`."""
    chain, heads = _heads(origin, stamp_notes(conn, origin, start), verifiers, start)
    head, checked = EMPTY_HEAD, chain
    if chain < start:  # the chain began before the range: resume at the head signed there
        resumed = heads.get(start)
        if resumed is None:
            raise Invalid(start, f"checkpoint at size {start} has no stamp note although "
                          f"stamping began at seq {chain}", "stamp_missing")
        head, checked = resumed, start
    forged = first_stamped_before(conn, origin, chain, start) if chain > start else None
    if forged is not None:
        raise Invalid(forged, f"stamps tampered: seq {forged} carries a submitted_by but was "
                      "sequenced before stamping began", "stamp_tampered")
    for seq, leaf, recorded_us, role in stamp_rows(conn, origin, checked):
        if role is None:
            raise Invalid(seq, f"stamps tampered: submitted_by of seq {seq} removed",
                          "stamp_tampered")
        head = fold(head, leaf, seq, recorded_us, role)
        signed = heads.get(seq + 1)
        if signed is not None:
            if signed != head:
                raise Invalid(checked, f"stamps tampered: submitted_by or recorded_at of "
                              f"{_seqs(checked, seq)} do not match the stamp head signed at "
                              f"size {seq + 1}", "stamp_tampered")
            checked = seq + 1
    if checked < min(size, max(heads, default=0)):
        raise Invalid(checked, f"stamps tampered: events missing below the stamp note at size "
                      f"{max(heads)}", "stamp_tampered")
    return min(chain, size)
