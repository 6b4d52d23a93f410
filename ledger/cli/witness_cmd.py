"""`ledger witness`: an independent cosigner with its own key and state directory (no database).

Run it as another user/host in another trust domain: it only reads checkpoint notes and
consistency proofs (from `ledger checkpoint` and `ledger prove --consistency`) and writes
cosigned notes to stdout. A refusal prints `refused: <code>: <reason>` on stderr and exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ledger.cli.common import emit_json
from ledger.errors import ExitCode, InputError
from ledger.note import NoteError
from ledger.witness import Witness, WitnessRefused

__all__ = ["app"]

app = typer.Typer(help="Witness: cosign checkpoints only when consistent.", no_args_is_help=True)

StateOption = typer.Option(..., "--state", help="Witness state directory (key, logs, last sizes).")


@app.command("init")
def init(state: Path = StateOption) -> None:
    """Create the witness key (0600) if needed and print its cosignature vkey."""
    typer.echo(Witness(state).verifier.vkey)


@app.command("add-log")
def add_log(
    origin: str = typer.Argument(..., help="Log origin, e.g. agent-ledger.local/default."),
    vkey: str = typer.Argument(..., help="Log vkey, or a file holding vkeys (e.g. log.key.pub)."),
    state: Path = StateOption,
) -> None:
    """Trust a log origin signed by the given key(s)."""
    path = Path(vkey)
    keys = (
        [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
        if path.is_file()
        else [vkey]
    )
    try:
        Witness(state).add_log(origin, keys)
    except NoteError as exc:
        raise InputError(f"bad log vkey: {exc}") from None
    typer.echo(f"trusting {origin} ({len(keys)} key(s))")


@app.command("cosign")
def cosign(
    checkpoint_file: Path = typer.Argument(..., help="Signed checkpoint note."),
    state: Path = StateOption,
    proof: Path | None = typer.Option(None, "--proof", help="Consistency proof (`ledger prove`)."),
    old_size: int | None = typer.Option(None, "--old-size", help="Size the proof starts from."),
    out: Path | None = typer.Option(None, "--out", help="Write the cosigned note here."),
) -> None:
    """Cosign CHECKPOINT_FILE if it extends the last checkpoint cosigned for its origin."""
    witness = Witness(state)
    hashes: list[bytes] = []
    if proof is not None:
        try:
            doc = json.loads(proof.read_text(encoding="utf-8"))
            hashes = [bytes.fromhex(h) for h in doc["proof"]]
            old_size = int(doc["old_size"]) if old_size is None else old_size
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"unreadable proof {proof}: {exc}") from None
    try:
        note = witness.cosign(checkpoint_file.read_bytes(), hashes, old_size=old_size)
    except WitnessRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(int(ExitCode.INVALID)) from None
    if out is not None:
        out.write_bytes(note)
    else:
        typer.echo(note.decode("utf-8"), nl=False)


@app.command("show")
def show(state: Path = StateOption) -> None:
    """Print the witness vkey and the last cosigned size per origin."""
    witness = Witness(state)
    data = json.loads((state / "state.json").read_text()) if (state / "state.json").exists() else {}
    emit_json({"vkey": witness.verifier.vkey, "logs": data})
