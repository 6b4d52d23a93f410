"""`ledger verify-proof`: check a saved proof offline, with only the trusted keys.

It never opens a database connection: it imports `ledger.proofcheck`, which depends on
merkle/note/witness only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    about,
    emit_json,
    input_argument,
    input_option,
    settings_from,
)
from ledger.errors import ExitCode, KeyUnavailable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _vkeys(path: Path) -> list[str]:
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


@app.command("verify-proof")
def verify_proof(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    proof_file: Annotated[Path, input_argument("A proof JSON written by `ledger prove`.")],
    trust: Annotated[
        list[Path] | None,
        input_option("--trust", help="Trusted log vkeys file (repeatable)."),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        input_option("--witness-key", help="Require this witness's cosignature."),
    ] = None,
    pin: Annotated[
        Path | None,
        input_option("--pin", help="A pinned checkpoint; the proof must not be older."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Check a saved proof offline (no database): signatures, leaf bytes, RFC 6962 proof."""
    from ledger.note import Checkpoint, Verifier, open_note
    from ledger.proofcheck import ProofInvalid, check_document
    from ledger.witness import CosignatureVerifier

    settings = settings_from(ctx)
    root = settings.keys_dir / "root.pub"  # written by the first `ledger keys rotate`
    local = root if root.is_file() else settings.log_key_path.with_name("log.key.pub")
    files = trust or [local]
    with about("bad key file"):
        verifiers = [Verifier.from_vkey(v) for f in files if f.is_file() for v in _vkeys(f)]
        witnesses = [CosignatureVerifier.from_vkey(v) for f in witness_key or [] for v in _vkeys(f)]
    if not verifiers:
        raise KeyUnavailable("no trusted log key: pass --trust FILE")
    pinned = None
    if pin is not None:
        with about(f"pinned checkpoint {pin} is not valid"):
            pinned = Checkpoint.parse(open_note(pin.read_bytes(), verifiers).body)
    try:
        doc = json.loads(proof_file.read_text(encoding="utf-8"))
        report = check_document(doc, verifiers, witnesses=witnesses, pin=pinned)
    except (OSError, ValueError) as exc:  # the verdict on the proof's content (it was read)
        reason = str(exc) if isinstance(exc, ProofInvalid) else f"unreadable proof: {exc}"
        if json_out:
            emit_json({"status": "invalid", "reason": reason})
        else:
            typer.echo(f"INVALID: {reason}")
        raise typer.Exit(int(ExitCode.INVALID)) from None
    if json_out:
        emit_json(
            {
                "status": "ok",
                "kind": report.kind,
                "origin": report.origin,
                "tree_size": report.tree_size,
                **report.details,
            }
        )
    else:
        typer.echo(f"OK: {report.kind} proof valid against {report.origin} size {report.tree_size}")
