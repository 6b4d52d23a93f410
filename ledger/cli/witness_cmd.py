"""`ledger witness`: an independent cosigner with its own key and state directory (no database).

Run it as another user/host in another trust domain: it only reads checkpoint notes and
consistency proofs (from `ledger checkpoint` and `ledger prove --consistency`) and writes
cosigned notes to stdout. A refusal prints `refused: <code>: <reason>` on stderr and exits 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import about, emit_json
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="Witness: cosign checkpoints only when consistent.",
    no_args_is_help=True,
    add_completion=False,
)

StateOption = Annotated[
    Path, typer.Option("--state", help="Witness state directory (key, logs, last sizes).")
]
KeyOption = Annotated[
    str | None,
    typer.Option(
        "--key",
        envvar="LEDGER_WITNESS_KEY",
        metavar="FILE|PKCS11-URI",
        help="Witness key: an existing key file or a pkcs11: URI (default: STATE/witness.key).",
    ),
]


@app.command("init")
def init(state: StateOption, key: KeyOption = None) -> None:
    """Create the witness key (0600) if needed and print its cosignature vkey."""
    from ledger.witness import Witness

    typer.echo(Witness(state, key=key).verifier.vkey)


@app.command("add-log")
def add_log(
    origin: Annotated[
        str, typer.Argument(help="Log origin, e.g. agent-ledger.local/default.")
    ],
    vkey: Annotated[
        str, typer.Argument(help="Log vkey, or a file holding vkeys (e.g. log.key.pub).")
    ],
    state: StateOption,
    key: KeyOption = None,
) -> None:
    """Trust a log origin signed by the given key(s)."""
    from ledger.witness import Witness

    path = Path(vkey)
    keys = (
        [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
        if path.is_file()
        else [vkey]
    )
    with about("bad log vkey"):
        Witness(state, key=key).add_log(origin, keys)
    typer.echo(f"trusting {origin} ({len(keys)} key(s))")


@app.command("cosign")
def cosign(  # noqa: PLR0917 - typer maps parameters to options
    checkpoint_file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Signed checkpoint note.")
    ],
    state: StateOption,
    proof: Annotated[
        Path | None, typer.Option("--proof", help="Consistency proof (`ledger prove`).")
    ] = None,
    old_size: Annotated[
        int | None, typer.Option("--old-size", help="Size the proof starts from.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the cosigned note here.")
    ] = None,
    key: KeyOption = None,
) -> None:
    """Cosign CHECKPOINT_FILE if it extends the last checkpoint cosigned for its origin."""
    from ledger.witness import Witness

    witness = Witness(state, key=key)
    hashes: list[bytes] = []
    if proof is not None:
        try:
            doc = json.loads(proof.read_text(encoding="utf-8"))
            hashes = [bytes.fromhex(h) for h in doc["proof"]]
            old_size = int(doc["old_size"]) if old_size is None else old_size
        except (OSError, ValueError, KeyError, TypeError) as exc:  # not ours: the user's file
            raise InputError(f"unreadable proof {proof}: {exc}") from None
    note = witness.cosign(checkpoint_file.read_bytes(), hashes, old_size=old_size)
    if out is not None:
        out.write_bytes(note)
    else:
        typer.echo(note.decode("utf-8"), nl=False)


@app.command("show")
def show(state: StateOption, key: KeyOption = None) -> None:
    """Print the witness vkey and the last cosigned size per origin."""
    from ledger.witness import Witness

    witness = Witness(state, key=key)
    data = json.loads((state / "state.json").read_text()) if (state / "state.json").exists() else {}
    emit_json({"vkey": witness.verifier.vkey, "logs": data})
