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


@keys_app.command("rotate")
def rotate(
    ctx: typer.Context,
    reason: str = typer.Option("rotation", "--reason", help="Why (recorded in the log)."),
    json_out: bool = JsonOption,
) -> None:
    """Rotate the log key: a key.rotated event endorsed by the old key, then the new key signs."""
    from ledger.cli.common import connection
    from ledger.keyops import rotate_log_key

    result = rotate_log_key(connection(ctx), settings_from(ctx), reason)
    info = {
        "old_key_id": result.old_key_id,
        "new_key_id": result.new_key_id,
        "vkey": result.new_vkey,
        "valid_from_size": result.valid_from,
    }
    if json_out:
        emit_json(info)
        return
    typer.echo(f"rotated {result.old_key_id} -> {result.new_key_id}")
    for origin, size in result.valid_from.items():
        typer.echo(f"{origin}: new key valid from size {size}")


@keys_app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: str = typer.Argument(..., help="Hex key id of the compromised key."),
    from_size: int = typer.Option(..., "--from-size", help="First tree size the key is untrusted."),
    reason: str = typer.Option("compromised", "--reason", help="Why (recorded in the log)."),
) -> None:
    """Mark a key compromised from a tree size onward (key.revoked, endorsed by the current key)."""
    from ledger.cli.common import connection
    from ledger.errors import InputError
    from ledger.keyops import KeyOpError, revoke_key

    try:
        done = revoke_key(connection(ctx), settings_from(ctx), key_id, from_size, reason)
    except KeyOpError as exc:
        raise InputError(str(exc)) from None
    for origin in done:
        typer.echo(f"{origin}: key {key_id} revoked from size {from_size}")
