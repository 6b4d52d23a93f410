"""Sealing a bundle: file entries, manifest, in-toto Statement, DSSE envelope, SHA256SUMS.

Why separate: this is the only step that signs, and it must run last, over files that no longer
change. Subjects are every file (manifest.json included) except the envelope, its decoded copy
and SHA256SUMS, which are derived from the subjects and checked by the verifier.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from pathlib import Path
from typing import Any

from exporters.dsse import PREDICATE_TYPE, STATEMENT_TYPE, RawSigner, sign_envelope

__all__ = ["HashingSink", "file_entry", "seal"]


class HashingSink(io.RawIOBase):
    """A write-only file that SHA-256s and counts what passes through it.

    Why: the big files (events, leaves) were read back in full to hash them for the manifest
    (~1 s per 1M events on the main thread); hashing on the way out happens on the writer's
    thread instead (hashlib releases the GIL). pyarrow writes Parquet into it as a file object.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fh = path.open("wb")
        self._sha = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._sha.update(view)
        self._fh.write(view)
        self.size += view.nbytes
        return view.nbytes

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        if not self._fh.closed:
            self._fh.flush()

    def close(self) -> None:
        if self.closed:
            return
        try:
            super().close()  # flushes
        finally:
            self._fh.close()

    def digest(self) -> tuple[str, int]:
        """(sha256 hex, size) of everything written."""
        return self._sha.hexdigest(), self.size


def file_entry(
    root: Path,
    rel: str,
    media_type: str,
    rows: int | None = None,
    *,
    known: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """Manifest entry for a written file: path, sha256, size, media type, row count.

    `known` is (sha256, size) from a `HashingSink` that wrote the file (not read again).
    """
    if known is None:
        digest = hashlib.sha256()
        with (root / rel).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        known = digest.hexdigest(), (root / rel).stat().st_size
    entry: dict[str, Any] = {
        "path": rel,
        "sha256": known[0],
        "bytes": known[1],
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
    # files already hashed for the manifest are not read a second time
    known = {f["path"]: f["sha256"] for f in [*manifest["files"], manifest_entry]}
    lines = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out).as_posix()
        if rel != "SHA256SUMS":
            digest = known.get(rel) or file_entry(out, rel, "")["sha256"]
            lines.append(f"{digest}  {rel}\n")
    (out / "SHA256SUMS").write_text("".join(lines), encoding="utf-8")
    return str(manifest_entry["sha256"])
