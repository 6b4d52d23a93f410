"""Offline verification of proof documents (`ledger verify-proof FILE`); no database imports.

Why: the point of a proof is that the auditor need not trust the server that produced it. This
module checks an `agent-ledger/proof/v1` document with nothing but the trusted log keys (and,
optionally, witness keys and a pinned checkpoint): the checkpoint signature and origin, the
leaf recomputed from the event bytes, and the RFC 6962 inclusion or consistency proof bound to
the checkpoint's own size (never a size the document merely claims). For a run it also checks
completeness: run_seq 0..n-1 contiguous, every prev_run_hash link, and that the run.ended event
commits to n events and to the leaf of event n-2.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import VerificationFailed
from ledger.merkle import ProofError, leaf_hash, verify_consistency, verify_inclusion
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.witness import CosignatureVerifier

__all__ = ["ProofInvalid", "ProofReport", "check_document"]

FORMAT = "agent-ledger/proof/v1"


class ProofInvalid(VerificationFailed, ValueError):
    """The proof document does not prove what it claims; the message says why."""


@dataclass
class ProofReport:
    """What a valid document proved."""

    kind: str
    origin: str
    tree_size: int
    details: dict[str, Any] = field(default_factory=dict)


def _hashes(values: Any, what: str) -> list[bytes]:
    if not isinstance(values, list):
        raise ProofInvalid(f"{what} must be a list of hex hashes")
    try:
        return [bytes.fromhex(str(v)) for v in values]
    except ValueError:
        raise ProofInvalid(f"{what} holds a value that is not hex") from None


def _body(text: Any) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise ProofInvalid("event body is not valid base64") from None


def _checkpoint(
    doc: dict[str, Any],
    key: str,
    verifiers: Sequence[Verifier],
    witnesses: Sequence[CosignatureVerifier],
) -> Checkpoint:
    note = doc.get(key)
    if not isinstance(note, str):
        raise ProofInvalid(f"missing {key}")
    try:
        cp = Checkpoint.parse(open_note(note.encode("utf-8"), verifiers).body)
        for witness in witnesses:
            witness.timestamp(note.encode("utf-8"))
    except NoteError as exc:
        raise ProofInvalid(f"{key}: {exc}") from None
    if cp.origin != doc.get("origin"):
        raise ProofInvalid(
            f"origin mismatch: checkpoint is for {cp.origin!r}, proof says {doc.get('origin')!r}"
        )
    return cp


def _inclusion(leaf: bytes, seq: Any, cp: Checkpoint, proof: list[bytes]) -> None:
    if not isinstance(seq, int) or isinstance(seq, bool):
        raise ProofInvalid("seq must be an integer")
    try:
        verify_inclusion(leaf, seq, cp.size, proof, cp.root)
    except ProofError as exc:
        raise ProofInvalid(
            f"invalid inclusion proof for seq {seq} at size {cp.size}: {exc}"
        ) from None


def _check_inclusion(doc: dict[str, Any], cp: Checkpoint) -> dict[str, Any]:
    if doc.get("tree_size") != cp.size:
        raise ProofInvalid(
            f"proof is for tree size {doc.get('tree_size')}, checkpoint has {cp.size}"
        )
    body = _body(doc.get("body"))
    leaf = leaf_hash(body)
    if doc.get("leaf_hash") not in (None, leaf.hex()):
        raise ProofInvalid("leaf_hash does not match the event bytes")
    event = json.loads(body)
    if doc.get("event_id") is not None and event.get("event_id") != doc.get("event_id"):
        raise ProofInvalid("event bytes are for another event_id")
    _inclusion(leaf, doc.get("seq"), cp, _hashes(doc.get("proof"), "proof"))
    return {"seq": doc["seq"], "event_id": event.get("event_id"), "type": event.get("type")}


def _check_consistency(
    doc: dict[str, Any], cp: Checkpoint, old: Checkpoint | None
) -> dict[str, Any]:
    old_size, new_size = doc.get("old_size"), doc.get("new_size")
    if new_size != cp.size or not isinstance(old_size, int):
        raise ProofInvalid(f"proof is for sizes {old_size}->{new_size}, checkpoint has {cp.size}")
    old_root = _hashes([doc.get("old_root")], "old_root")[0]
    if old is not None and (old.size != old_size or old.root != old_root):
        raise ProofInvalid(
            f"old checkpoint (size {old.size}) does not match old size/root {old_size}"
        )
    try:
        verify_consistency(old_size, cp.size, old_root, cp.root, _hashes(doc.get("proof"), "proof"))
    except ProofError as exc:
        raise ProofInvalid(f"invalid consistency proof {old_size}->{cp.size}: {exc}") from None
    return {"old_size": old_size, "old_root": old_root.hex(), "new_size": cp.size}


def _check_run(doc: dict[str, Any], cp: Checkpoint) -> dict[str, Any]:
    if doc.get("tree_size") != cp.size:
        raise ProofInvalid(
            f"proof is for tree size {doc.get('tree_size')}, checkpoint has {cp.size}"
        )
    items = doc.get("events")
    if not isinstance(items, list) or not items:
        raise ProofInvalid("run proof lists no events")
    prev: str | None = None
    events: list[dict[str, Any]] = []
    for n, item in enumerate(items):
        body = _body(item.get("body"))
        leaf = leaf_hash(body)
        _inclusion(leaf, item.get("seq"), cp, _hashes(item.get("proof"), f"events[{n}].proof"))
        event = json.loads(body)
        if event.get("run_id") != doc.get("run_id"):
            raise ProofInvalid(f"events[{n}] belongs to run {event.get('run_id')}")
        if event.get("run_seq") != n:
            raise ProofInvalid(
                f"run_seq gap or reorder: events[{n}] has run_seq {event.get('run_seq')}"
            )
        if event.get("prev_run_hash") != prev:
            raise ProofInvalid(f"run chain break at run_seq {n}: prev_run_hash does not link")
        prev = leaf.hex()
        events.append(event)
    seqs = [item["seq"] for item in items]
    if seqs != sorted(seqs):
        raise ProofInvalid("run events are not in log order")
    end = events[-1]
    if end.get("type") != "run.ended":
        raise ProofInvalid("run has not ended: completeness cannot be shown (no run.ended event)")
    data = end.get("data", {})
    if data.get("event_count") != len(events):
        raise ProofInvalid(
            f"run.ended commits to {data.get('event_count')} events, proof has {len(events)}"
        )
    want_last = leaf_hash(_body(items[-2]["body"])).hex() if len(items) > 1 else None
    if data.get("last_hash") != want_last:
        raise ProofInvalid("run.ended last_hash is not the leaf of the event before it")
    return {"run_id": doc["run_id"], "events": len(events), "complete": True}


def check_document(
    doc: dict[str, Any],
    verifiers: Sequence[Verifier],
    *,
    witnesses: Sequence[CosignatureVerifier] = (),
    pin: Checkpoint | None = None,
) -> ProofReport:
    """Verify a proof document; raise ProofInvalid with the reason, or return what it proved."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ProofInvalid(f"not an {FORMAT} document")
    cp = _checkpoint(doc, "checkpoint", verifiers, witnesses)
    kind = doc.get("kind")
    if kind == "inclusion":
        details = _check_inclusion(doc, cp)
    elif kind == "consistency":
        old = None
        if doc.get("old_checkpoint"):
            old = _checkpoint(doc, "old_checkpoint", verifiers, ())
        details = _check_consistency(doc, cp, old)
    elif kind == "run":
        details = _check_run(doc, cp)
    else:
        raise ProofInvalid(f"unknown proof kind {kind!r}")
    if pin is not None:
        if pin.origin != cp.origin:
            raise ProofInvalid(f"origin mismatch: pinned {pin.origin!r}, proof for {cp.origin!r}")
        if cp.size < pin.size:
            raise ProofInvalid(f"stale checkpoint: size {cp.size} < pinned size {pin.size}")
        if cp.size == pin.size and cp.root != pin.root:
            raise ProofInvalid(f"equivocation: two different signed roots for size {pin.size}")
    return ProofReport(str(kind), cp.origin, cp.size, details)
