"""`ledger witness`: an independent cosigner with its own key and state directory (no database).

Run it as another user/host in another trust domain: it only reads checkpoint notes and
consistency proofs (from `ledger checkpoint` and `ledger prove --consistency`) and writes
cosigned notes to stdout. A refusal prints `refused: <code>: <reason>` on stderr and exits 1.

Every subcommand keeps its state in one directory: `--state`, else `$LEDGER_WITNESS_DIR` (the
sequencer's in-process witness reads the same variable), else `HOME/witness`; so `ledger
witness show` finds what `init`, `add-log` and `cosign` wrote without being told where.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import about, emit_json, input_argument, input_option, settings_from
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="Witness: cosign checkpoints only when consistent.",
    no_args_is_help=True,
    add_completion=False,
)

StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        envvar="LEDGER_WITNESS_DIR",
        metavar="DIR",
        help="Witness state directory (key, logs, last sizes); default HOME/witness.",
    ),
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


def _state(ctx: typer.Context, state: Path | None) -> Path:
    """The state directory: --state / $LEDGER_WITNESS_DIR, else the home's `witness`."""
    return state if state is not None else settings_from(ctx).home / "witness"


@app.command("init")
def init(ctx: typer.Context, state: StateOption = None, key: KeyOption = None) -> None:
    """Create the witness key (0600) if needed and print its cosignature vkey."""
    from ledger.witness import Witness

    typer.echo(Witness(_state(ctx, state), key=key).verifier.vkey)


@app.command("add-log")
def add_log(
    ctx: typer.Context,
    origin: Annotated[
        str, typer.Argument(help="Log origin, e.g. agent-ledger.local/default.")
    ],
    vkey: Annotated[
        str, typer.Argument(help="Log vkey, or a file holding vkeys (e.g. log.key.pub).")
    ],
    state: StateOption = None,
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
        Witness(_state(ctx, state), key=key).add_log(origin, keys)
    typer.echo(f"trusting {origin} ({len(keys)} key(s))")


@app.command("cosign")
def cosign(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    checkpoint_file: Annotated[Path, input_argument("Signed checkpoint note.")],
    state: StateOption = None,
    proof: Annotated[
        Path | None, input_option("--proof", help="Consistency proof (`ledger prove`).")
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

    witness = Witness(_state(ctx, state), key=key)
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
def show(ctx: typer.Context, state: StateOption = None, key: KeyOption = None) -> None:
    """Print the witness vkey and the last cosigned size per origin.

    It only reads: a state directory without a witness key (and no --key) is an error naming
    it, not a new witness.
    """
    from ledger.witness import Witness

    folder = _state(ctx, state)
    if key is None and not (folder / "witness.key").is_file():
        raise InputError(f"no witness in {folder}: run `ledger witness init` (or give --state)")
    witness = Witness(folder, key=key)
    file = folder / "state.json"
    data = json.loads(file.read_text()) if file.exists() else {}
    emit_json({"vkey": witness.verifier.vkey, "logs": data})
