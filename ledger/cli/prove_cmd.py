"""`ledger prove` (inclusion, consistency, run completeness) and `ledger verify-proof` (offline).

`prove` reads the database and prints an `agent-ledger/proof/v1` JSON document bound to a signed
checkpoint. `verify-proof` checks a saved document with only the trusted keys: it never opens a
database connection (it imports `ledger.proofcheck`, which depends on merkle/note/witness only).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer

from ledger.cli import app
from ledger.cli.common import connection, emit_json, settings_from
from ledger.errors import ExitCode, InputError, KeyUnavailable
from ledger.note import Checkpoint, NoteError, Verifier, open_note
from ledger.proofcheck import ProofInvalid, check_document
from ledger.witness import CosignatureVerifier

__all__ = ["prove", "verify_proof"]


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"{what} must be a UUID, got {text!r}") from None


@app.command("prove")
def prove(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    target: str | None = typer.Argument(None, help="EVENT_ID, or NEW_SIZE with --consistency."),
    consistency: int | None = typer.Option(
        None, "--consistency", help="Old tree size for a consistency proof."
    ),
    run: str | None = typer.Option(None, "--run", help="Run id: prove the run complete."),
    size: int | None = typer.Option(None, "--size", help="Use the checkpoint of this size."),
    tenant: str | None = typer.Option(None, "--tenant", help="Tenant log for --consistency."),
    out: Path | None = typer.Option(None, "--out", help="Write the proof here instead of stdout."),
    json_out: bool = typer.Option(True, "--json", help="Print the proof JSON (default)."),
) -> None:
    """Emit an inclusion, consistency or run-completeness proof against a signed checkpoint."""
    from ledger.proofs import ProofUnavailable, consistency_doc, inclusion_doc, run_doc

    settings = settings_from(ctx)
    conn = connection(ctx)
    try:
        if consistency is not None:
            new_size = int(target) if target else size
            doc = consistency_doc(conn, settings.origin(tenant), consistency, new_size)
        elif run is not None:
            doc = run_doc(conn, _uuid(run, "--run"))
        elif target:
            doc = inclusion_doc(conn, _uuid(target, "EVENT_ID"), size)
        else:
            raise InputError("give EVENT_ID, --consistency OLD_SIZE [NEW_SIZE] or --run RUN_ID")
    except ProofUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(int(ExitCode.INVALID)) from None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    text = json.dumps(doc, indent=2, sort_keys=True)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    elif json_out:
        typer.echo(text)


def _vkeys(path: Path) -> list[str]:
    if not path.is_file():
        raise InputError(f"no such file: {path}")
    return [
        line.strip()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]


@app.command("verify-proof")
def verify_proof(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    proof_file: Path = typer.Argument(..., help="A proof JSON written by `ledger prove`."),
    trust: list[Path] = typer.Option([], "--trust", help="Trusted log vkeys file (repeatable)."),
    witness_key: list[Path] = typer.Option(
        [], "--witness-key", help="Require this witness's cosignature."
    ),
    pin: Path | None = typer.Option(
        None, "--pin", help="A pinned checkpoint; the proof must not be older."
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable result."),
) -> None:
    """Check a saved proof offline (no database): signatures, leaf bytes, RFC 6962 proof."""
    settings = settings_from(ctx)
    root = settings.keys_dir / "root.pub"  # written by the first `ledger keys rotate`
    local = root if root.is_file() else settings.log_key_path.with_name("log.key.pub")
    files = trust or [local]
    try:
        verifiers = [Verifier.from_vkey(v) for f in files if f.is_file() for v in _vkeys(f)]
        witnesses = [CosignatureVerifier.from_vkey(v) for f in witness_key for v in _vkeys(f)]
    except NoteError as exc:
        raise InputError(f"bad key file: {exc}") from None
    if not verifiers:
        raise KeyUnavailable("no trusted log key: pass --trust FILE")
    pinned = None
    if pin is not None:
        try:
            pinned = Checkpoint.parse(open_note(pin.read_bytes(), verifiers).body)
        except (OSError, NoteError) as exc:
            raise InputError(f"pinned checkpoint {pin} is not valid: {exc}") from None
    try:
        doc = json.loads(proof_file.read_text(encoding="utf-8"))
        report = check_document(doc, verifiers, witnesses=witnesses, pin=pinned)
    except (OSError, ValueError) as exc:
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
