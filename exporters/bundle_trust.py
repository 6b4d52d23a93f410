"""Whose keys `verify-bundle` trusts, what the bundle merely claims, and the witness check.

Why its own module: a bundle carries `keys/trust.json`, but keys that arrive with the evidence
prove nothing (an attacker who rewrites the bundle rewrites that file too and re-signs with a
key of their own). Trust therefore comes only from files the auditor passes (`--trust`); without
them the verdict is UNTRUSTED and the fingerprints the bundle claims are printed so they can be
compared out of band. The witness cosignature (C2SP cosignature/v1) of the end checkpoint is
checked here too, against witness keys the auditor passes (`--witness-key`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from exporters.bundle_report import BundleReport
from exporters.dsse import dsse_keyid
from ledger.keys import fingerprint
from ledger.note import NoteError, Verifier, open_note, parse_note
from ledger.witness import CosignatureVerifier

__all__ = ["COSIGNED", "Trust", "check_witness", "claimed_keys", "load_trust", "load_trusts"]

#: where the export puts the witness-cosigned end checkpoint (when the ledger has a witness)
COSIGNED = "checkpoints/end.cosigned.note"


@dataclass
class Trust:
    """Keys the verifier trusts: checkpoint verifiers and DSSE keys (keyid -> public key)."""

    log: list[Verifier]
    witnesses: list[Verifier]
    dsse: dict[str, bytes]
    source: str
    #: the DSSE keys as the file names them (for printing the claimed fingerprints)
    labels: dict[str, str] = field(default_factory=dict)
    #: witness keys (C2SP cosignature/v1 vkeys) found among the keys
    cosigners: list[CosignatureVerifier] = field(default_factory=list)


def _key(vkey: str, trust: Trust, *, witness: bool) -> None:
    """Sort one vkey: a cosignature/v1 key is a witness's, an Ed25519 note key a log's."""
    try:
        verifier = Verifier.from_vkey(vkey)
    except NoteError:
        trust.cosigners.append(CosignatureVerifier.from_vkey(vkey))
        return
    (trust.witnesses if witness else trust.log).append(verifier)


def load_trust(path: Path) -> Trust:
    """A trust.json (as in `keys/`) or a text file of C2SP vkeys, one per line.

    Witness keys in cosignature/v1 form (`ledger witness init` prints one) may be listed with
    the others: they check the end checkpoint's cosignature as `--witness-key` does.
    """
    text = path.read_text(encoding="utf-8")
    trust = Trust([], [], {}, str(path))
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        for k in doc.get("log_keys", []):
            _key(k["vkey"], trust, witness=False)
        for k in doc.get("witness_keys", []):
            _key(k["vkey"], trust, witness=True)
        for k in doc.get("dsse_signers", []):
            public = bytes.fromhex(k["public_key_hex"])
            # the key id is recomputed: a claimed id that is not sha256(key) names nothing
            trust.dsse[dsse_keyid(public)] = public
            trust.labels[dsse_keyid(public)] = str(k.get("key", "DSSE signer"))
    else:
        for line in text.splitlines():
            if line.strip() and not line.startswith("#"):
                _key(line.strip(), trust, witness=False)
    for v in trust.log:
        trust.dsse.setdefault(dsse_keyid(v.public_key), v.public_key)
        trust.labels.setdefault(dsse_keyid(v.public_key), f"log key {v.name}")
    return trust


def load_trusts(paths: Sequence[Path]) -> Trust:
    """Several trust files given by the auditor, merged (any of their keys is trusted)."""
    parts = [load_trust(p) for p in paths]
    merged = Trust([], [], {}, ", ".join(p.source for p in parts))
    for part in parts:
        merged.log += [v for v in part.log if v not in merged.log]
        merged.witnesses += [v for v in part.witnesses if v not in merged.witnesses]
        merged.dsse.update(part.dsse)
        merged.labels.update(part.labels)
        merged.cosigners += part.cosigners
    return merged


def claimed_keys(trust: Trust, signers: Sequence[str]) -> list[str]:
    """One line per key the bundle claims, with fingerprints computed here (not copied)."""
    lines = [f"log key {v.name}: {fingerprint(v)}" for v in trust.log]
    for keyid in trust.dsse:
        mark = " (signed this bundle's DSSE envelope)" if keyid in signers else ""
        lines.append(f"DSSE signer {trust.labels.get(keyid, '')}: keyid {keyid}{mark}")
    lines += [f"witness key {v.name}: {fingerprint(v)}" for v in trust.witnesses]
    lines += [f"witness key {v.name}: {v.vkey}" for v in trust.cosigners]
    return lines


def check_witness(
    root: Path,
    manifest: dict[str, Any],
    witness_keys: Sequence[CosignatureVerifier],
    trust: Trust,
    report: BundleReport,
) -> None:
    """Verify the end checkpoint's witness cosignature; "no witness" when the bundle has none.

    The cosigned note must carry the same checkpoint body as `end.note` and the log signature;
    with witness keys given, each must have cosigned it (a forged or missing one is a problem,
    as with `ledger verify --witness-key`).
    """
    _witness(root, manifest, witness_keys, trust, report)
    report.checks["witness"] = report.witness


def _witness(
    root: Path,
    manifest: dict[str, Any],
    witness_keys: Sequence[CosignatureVerifier],
    trust: Trust,
    report: BundleReport,
) -> None:
    rel = manifest.get("checkpoints", {}).get("end", {}).get("cosigned")
    if not rel:
        report.witness = "no witness"
        if witness_keys:
            report.add(COSIGNED, "no witness cosignature in the bundle (--witness-key given)")
        return
    try:
        cosigned = (root / rel).read_bytes()
        body, _ = parse_note(cosigned)
        end_body, _ = parse_note((root / "checkpoints/end.note").read_bytes())
        open_note(cosigned, trust.log)
    except (OSError, NoteError, ValueError) as exc:
        report.add(rel, f"witness cosigned checkpoint not valid: {exc}")
        return
    if body != end_body:
        report.add(rel, "witness cosigned a different checkpoint than checkpoints/end.note")
        return
    if not witness_keys:
        report.witness = "cosigned, not verified (pass --witness-key)"
        return
    seen = []
    for key in witness_keys:
        try:
            seen.append(f"{key.name} at {key.timestamp(cosigned)}")
        except NoteError as exc:
            report.add(rel, f"witness cosignature not valid: {exc}")
            report.witness = "cosignature not valid"
    if seen and not report.witness:
        report.witness = "cosigned by " + ", ".join(seen)
