"""Sealing a bundle: file entries, manifest, in-toto Statement, DSSE envelope, SHA256SUMS.

Why separate: this is the only step that signs, and it must run last, over files that no longer
change. Subjects are every file (manifest.json included) except the envelope, its decoded copy
and SHA256SUMS, which are derived from the subjects and checked by the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from exporters.dsse import PREDICATE_TYPE, STATEMENT_TYPE, RawSigner, sign_envelope

__all__ = ["file_entry", "seal"]


def file_entry(root: Path, rel: str, media_type: str, rows: int | None = None) -> dict[str, Any]:
    """Manifest entry for a written file: path, sha256, size, media type, row count."""
    digest = hashlib.sha256()
    with (root / rel).open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    entry: dict[str, Any] = {
        "path": rel,
        "sha256": digest.hexdigest(),
        "bytes": (root / rel).stat().st_size,
        "media_type": media_type,
    }
    if rows is not None:
        entry["rows"] = rows
    return entry


def seal(out: Path, manifest: dict[str, Any], predicate: dict[str, Any], signer: RawSigner) -> str:
    """Write manifest.json, the signed statement and SHA256SUMS; return sha256(manifest.json)."""
    manifest["files"] = sorted(manifest["files"], key=lambda f: f["path"])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    manifest_entry = file_entry(out, "manifest.json", "application/json")
    subjects = [
        {"name": f["path"], "digest": {"sha256": f["sha256"]}}
        for f in sorted([*manifest["files"], manifest_entry], key=lambda f: f["path"])
    ]
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {**predicate, "manifest_sha256": manifest_entry["sha256"]},
    }
    envelope = sign_envelope(statement, [signer])
    (out / "attestation/bundle.dsse.json").write_text(json.dumps(envelope, indent=2) + "\n")
    (out / "attestation/statement.intoto.json").write_bytes(
        base64.b64decode(envelope["payload"]) + b"\n"
    )
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel != "SHA256SUMS":
            lines.append(f"{file_entry(out, rel, '')['sha256']}  {rel}\n")
    (out / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return str(manifest_entry["sha256"])
