"""`ledger keys show`: the log's public key and fingerprint (never the private key)."""

from __future__ import annotations

import typer

from ledger.cli import app
from ledger.cli.common import JsonOption, emit_json, settings_from
from ledger.keys import fingerprint
from ledger.store.sequencer import log_signer

keys_app = typer.Typer(help="Signing keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("show")
def show(ctx: typer.Context, json_out: bool = JsonOption) -> None:
    """Print the log key's verifier key (vkey), key id and fingerprint; creates it on first use."""
    settings = settings_from(ctx)
    signer = log_signer(settings)
    info = {
        "name": signer.name,
        "vkey": signer.vkey,
        "fingerprint": fingerprint(signer),
        "key_file": str(settings.log_key_path),
    }
    if json_out:
        emit_json(info)
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")
