"""`ledger verify-bundle`: check an evidence bundle with no database and no database code.

Why: an auditor must be able to verify what we hand over without trusting our infrastructure.
This module imports only the standard library, pyarrow, orjson, PyNaCl and the pure parts of the
ledger (merkle, note) plus the exporter's pure helpers; a test asserts in a subprocess that
psycopg is never imported. It checks, and reports every failure with file/row/seq and reason:
file digests (SHA256SUMS, manifest), the DSSE envelope and its in-toto subjects, the signed
checkpoints, the tree roots rebuilt from `leaves.parquet`, the consistency proof, every event
leaf recomputed from its canonical bytes and matched to the leaf at its seq, every flat column
re-derived from the body, run chains, and every population re-derived and matched by count and
by the exact CSV bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from exporters.authority_report import AuthorityReport
from exporters.bundle_authority import check_authority
from exporters.bundle_events import check_events, streaming_parquet
from exporters.bundle_report import BundleReport, Problem
from exporters.bundle_trust import Trust, check_witness, claimed_keys, load_trust, load_trusts
from exporters.dsse import PREDICATE_TYPE, STATEMENT_TYPE, DsseError, verify_envelope
from exporters.treeproof import StreamingTree
from ledger.authority.trust import TrustRoot
from ledger.merkle import EMPTY_ROOT, ProofError, verify_consistency
from ledger.note import Checkpoint, NoteError, open_note
from ledger.witness import CosignatureVerifier

__all__ = ["BundleReport", "Problem", "Trust", "load_trust", "verify_bundle"]

_UNSIGNED = ("SHA256SUMS", "attestation/bundle.dsse.json", "attestation/statement.intoto.json")
_BATCH = 50_000


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _files(root: Path, report: BundleReport) -> tuple[dict[str, str], dict[str, Any]]:
    disk = {p.relative_to(root).as_posix(): _digest(p) for p in root.rglob("*") if p.is_file()}
    sums: dict[str, str] = {}
    try:
        for n, line in enumerate((root / "SHA256SUMS").read_text().splitlines(), 1):
            digest, _, name = line.partition("  ")
            sums[name] = digest
            if disk.get(name) != digest:
                report.add("SHA256SUMS", f"{name}: digest mismatch or file missing", row=n)
    except OSError as exc:
        report.add("SHA256SUMS", f"unreadable: {exc.strerror}")
    for name in sorted(set(disk) - set(sums) - {"SHA256SUMS"}):
        report.add(name, "file not listed in SHA256SUMS (extra file)")
    try:
        manifest: dict[str, Any] = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        report.add("manifest.json", f"unreadable: {exc}")
        return disk, {}
    listed = {f["path"]: f for f in manifest.get("files", [])}
    for name, entry in listed.items():
        if name not in disk:
            report.add(name, "listed in manifest.json but missing")
        elif (
            entry.get("sha256") != disk[name] or entry.get("bytes") != (root / name).stat().st_size
        ):
            report.add(name, "digest or size differs from manifest.json")
    for name in sorted(set(disk) - set(listed) - {"manifest.json", *_UNSIGNED}):
        report.add(name, "file not listed in manifest.json (extra file)")
    report.checks["files"] = f"{len(disk)} files hashed"
    return disk, manifest


def _attestation(root: Path, trust: Trust, disk: dict[str, str], report: BundleReport) -> list[str]:
    """Check the DSSE envelope and its subjects; return the key ids that signed it."""
    name = "attestation/bundle.dsse.json"
    try:
        envelope = json.loads((root / name).read_text())
        payload, signers = verify_envelope(envelope, trust.dsse)
        statement = json.loads(payload)
    except (OSError, ValueError, DsseError) as exc:
        where = "the bundle's own keys/trust.json" if not report.trusted else trust.source
        report.add(name, f"DSSE verification failed: {exc}; trusted keys from {where}")
        return []
    if statement.get("_type") != STATEMENT_TYPE or statement.get("predicateType") != PREDICATE_TYPE:
        report.add(name, "statement _type or predicateType is not the expected one")
    subjects = {s["name"]: s["digest"].get("sha256") for s in statement.get("subject", [])}
    expected = {k: v for k, v in disk.items() if k not in _UNSIGNED}
    for path in sorted(set(subjects) | set(expected)):
        if subjects.get(path) != expected.get(path):
            report.add(path, "not covered by the signed statement (missing, extra or changed)")
    copy = root / "attestation/statement.intoto.json"
    if copy.is_file() and copy.read_bytes().rstrip(b"\n") != payload:
        report.add("attestation/statement.intoto.json", "differs from the signed payload")
    report.checks["dsse"] = f"signed by {', '.join(k[:16] for k in signers)}"
    return signers


def _checkpoint(  # noqa: PLR0917
    root: Path, rel: str | None, size: int, trust: Trust, origin: str, report: BundleReport
) -> tuple[int, bytes] | None:
    if rel is None:
        return (0, EMPTY_ROOT) if size == 0 else None
    try:
        opened = open_note((root / rel).read_bytes(), [*trust.log, *trust.witnesses])
        cp = Checkpoint.parse(opened.body)
    except (OSError, NoteError, ValueError) as exc:
        report.add(rel, f"checkpoint not valid: {exc}")
        return None
    if not any(v in trust.log for v in opened.verified_by):
        report.add(rel, "checkpoint not signed by a trusted log key")
    if cp.origin != origin or cp.size != size:
        report.add(
            rel, f"checkpoint is for {cp.origin} size {cp.size}, manifest says {origin} {size}"
        )
    witnesses = [v.name for v in opened.verified_by if v in trust.witnesses]
    report.checks[rel] = f"size {cp.size}, witnesses: {', '.join(witnesses) or 'none'}"
    return cp.size, cp.root


def _tree(
    root: Path, start: tuple[int, bytes], end: tuple[int, bytes], report: BundleReport
) -> bytearray:
    rel = "ledger/leaves.parquet"
    blob = bytearray()
    tree = StreamingTree(start[0], end[0])
    try:
        expect = 0
        for batch in streaming_parquet(root / rel).iter_batches(batch_size=_BATCH):
            seqs = batch.column("seq").to_pylist()
            leaves = batch.column("leaf_hash").to_pylist()
            if seqs and (seqs[0] != expect or seqs[-1] != expect + len(seqs) - 1):
                report.add(rel, "seq is not contiguous from 0", row=expect)
                return blob
            expect += len(seqs)
            if expect > end[0]:
                report.add(rel, f"more leaves than the end checkpoint size {end[0]}")
                return blob
            tree.feed(leaves)
            blob += b"".join(leaves)
    except (OSError, ValueError) as exc:
        report.add(rel, f"unreadable: {exc}")
        return blob
    report.leaves = tree.tree.size
    if tree.tree.size != end[0] or tree.tree.root() != end[1]:
        report.add(rel, f"root over {tree.tree.size} leaves does not match the end checkpoint")
    if tree.mid_root != start[1]:
        report.add(
            rel, f"root over the first {start[0]} leaves does not match the start checkpoint"
        )
    rel = "checkpoints/consistency.json"
    try:
        doc = json.loads((root / rel).read_text())
        if (doc["old_size"], doc["new_size"]) != (start[0], end[0]):
            raise ProofError("proof sizes do not match the checkpoints")
        if start[0]:
            proof = [bytes.fromhex(p) for p in doc["proof"]]
            verify_consistency(start[0], end[0], start[1], end[1], proof)
    except (OSError, KeyError, ValueError) as exc:
        report.add(rel, f"consistency proof invalid: {exc}")
    else:
        report.checks["tree"] = f"roots at {start[0]} and {end[0]} rebuilt; consistency verified"
    return blob


def verify_bundle(
    path: Path,
    trust_path: Path | Sequence[Path] | None = None,
    trust_root: TrustRoot | None = None,
    witness_keys: Sequence[CosignatureVerifier] = (),
) -> BundleReport:
    """Verify the bundle directory `path`; never raises for an invalid bundle.

    `trust_path` (the auditor's log/export keys) is what makes a consistent bundle OK; without
    it the keys come from the bundle's own keys/trust.json and the verdict is at best UNTRUSTED
    (`report.verdict`), with the claimed fingerprints in `report.claimed_keys`. `trust_root`
    (the auditor's administrator keys) judges the registries and approvals in the bundle
    (`report.authority`); without it that section is UNTRUSTED, never OK.
    """
    report = BundleReport()
    if trust_root is not None:
        report.authority = AuthorityReport(
            status="NOT_JUDGED",
            reason="the bundle could not be read far enough to judge approvals",
            trust_root=trust_root.source,
        )
    root = Path(path)
    if not root.is_dir():
        report.add(str(root), "not a directory")
        return report
    paths = [trust_path] if isinstance(trust_path, Path) else list(trust_path or [])
    report.trusted = bool(paths)
    try:
        trust = load_trusts(paths) if paths else load_trust(root / "keys/trust.json")
    except (OSError, ValueError, KeyError, NoteError) as exc:
        where = ", ".join(map(str, paths)) or "keys/trust.json"
        report.add(where, f"cannot load trusted keys: {exc}")
        return report
    disk, manifest = _files(root, report)
    signers = _attestation(root, trust, disk, report)
    if not paths:
        report.claimed_keys = claimed_keys(trust, signers)
    if not manifest:
        return report
    params = manifest.get("parameters", {})
    cps = manifest.get("checkpoints", {})
    origin = str(params.get("origin", ""))
    end = _checkpoint(
        root,
        cps.get("end", {}).get("note"),
        cps.get("end", {}).get("size", -1),
        trust,
        origin,
        report,
    )
    start = _checkpoint(
        root,
        cps.get("start", {}).get("note"),
        cps.get("start", {}).get("size", -1),
        trust,
        origin,
        report,
    )
    if end is None or start is None:
        report.add("checkpoints", "start or end checkpoint missing")
        return report
    blob = _tree(root, start, end, report)
    # a witness key counts only when the auditor gave it, never when the bundle lists it
    witnesses = [*witness_keys, *(trust.cosigners if paths else [])]
    check_witness(root, manifest, witnesses, trust, report)
    check_events(root, manifest, blob, end[0], report)
    check_authority(root, blob, end[0], origin, trust_root, report, manifest.get("identity_tokens"))
    return report
