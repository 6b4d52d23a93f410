"""`ledger keys show|rotate|revoke|approver|admin|kek`: the log's public key (never the private
key), its life, approver keys, administrator keys and the subject key-encryption key (created
only here)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, err, settings_from

__all__ = ["app"]

app = typer.Typer(help="Signing keys.", no_args_is_help=True, add_completion=False)


@app.command("show")
def show(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Print the log key's verifier key (vkey), key id and fingerprint; creates it on first use."""
    from ledger.hsm import Pkcs11Signer
    from ledger.keys import fingerprint
    from ledger.store.sequencer import log_signer

    settings = settings_from(ctx)
    signer = log_signer(settings)
    info = {
        "name": signer.name,
        "vkey": signer.vkey,
        "fingerprint": fingerprint(signer),
        "key_file": (
            f"pkcs11 token {signer.token_label!r}"
            if isinstance(signer, Pkcs11Signer)
            else str(settings.log_key_path)
        ),
    }
    if json_out:
        emit_json(info)
        return
    for key, value in info.items():
        typer.echo(f"{key}: {value}")


@app.command("rotate")
def rotate(
    ctx: typer.Context,
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded in the log).")
    ] = "rotation",
    json_out: JsonOption = False,
) -> None:
    """Rotate the log key: a key.rotated event endorsed by the old key, then the new key signs."""
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


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    key_id: Annotated[str, typer.Argument(help="Hex key id of the compromised key.")],
    from_size: Annotated[
        int, typer.Option("--from-size", help="First tree size the key is untrusted.")
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded in the log).")
    ] = "compromised",
) -> None:
    """Mark a key compromised from a tree size onward (key.revoked, endorsed by the current key)."""
    from ledger.keyops import revoke_key

    done = revoke_key(connection(ctx), settings_from(ctx), key_id, from_size, reason)
    for origin in done:
        typer.echo(f"{origin}: key {key_id} revoked from size {from_size}")


@app.command("approver")
def approver(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Approver name (as given to `--as`).")],
    json_out: JsonOption = False,
) -> None:
    """Create an approver's signing key (0600) explicitly; approving never creates one."""
    from ledger.approver_keys import create_approver_key

    key = create_approver_key(settings_from(ctx), name)
    info = {"name": name, "key_file": str(key.path), "vkey": key.vkey, "created": key.created}
    if json_out:
        emit_json(info)
        return
    typer.echo(f"{'created' if key.created else 'exists'}: {key.path}")
    typer.echo(f"vkey: {key.vkey}")


@app.command("service")
def service(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Create the ledger's service identity key (KEYS_DIR/service.key, 0600) explicitly.

    It signs the ledger's automatic acts (`ledger serve`'s circuit breakers). Put the printed
    vkey in the registry as `service_key`; LEDGER_SERVICE_KEY may name another key file or a
    pkcs11: URI instead.
    """
    from ledger.service_key import create_service_key

    key = create_service_key(settings_from(ctx))
    if json_out:
        emit_json({"key_file": str(key.path), "vkey": key.vkey, "created": key.created})
        return
    err(f"{'created' if key.created else 'exists'}: {key.path}")
    typer.echo(key.vkey)


@app.command("admin")
def admin(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Key name (e.g. security-admin).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Key file to create (default: KEYS_DIR/admin/NAME.key)."),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Create an administrator key that signs principal registries; print its public key.

    stdout is the public key alone, so `ledger keys admin NAME > trust-root.pub` writes a trust
    root. Keep the .key off agent hosts: verifiers trust a registry only through the public key
    given as LEDGER_TRUST_ROOT or --trust-root, never one the ledger finds in its own home.
    """
    from ledger.keys import load_or_create_signer, pub_path

    path = out or settings_from(ctx).keys_dir / "admin" / f"{name}.key"
    existed = path.exists()
    signer = load_or_create_signer(path, name)
    if json_out:
        emit_json({"name": name, "key_file": str(path), "pub_file": str(pub_path(path)),
                   "vkey": signer.vkey, "created": not existed})
        return
    err(f"{'exists' if existed else 'created'}: {path} (public key also in {pub_path(path)})")
    typer.echo(signer.vkey)


@app.command("kek")
def kek(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """Create the subject key-encryption key (0600 file + .pub) explicitly, or show the one in use.

    It wraps every private-payload subject key; keep it (and a backup) out of the database's
    backups, since a dump plus this file opens every payload. With LEDGER_SUBJECT_KEK=pkcs11:...
    the KEK is an RSA pair in a token and nothing is created.
    """
    from ledger.kek import create_file_kek, kek_path, kek_public, kek_spec

    settings = settings_from(ctx)
    created = False
    where = "pkcs11 token" if kek_spec(settings) else str(kek_path(settings))
    if not kek_spec(settings):
        _, created = create_file_kek(settings)
    public = kek_public(settings)
    info = {"kek": where, "scheme": public.scheme, "kek_id": public.kek_id, "created": created}
    if json_out:
        emit_json(info)
        return
    typer.echo(f"{'created' if created else 'exists'}: {where}")
    typer.echo(f"scheme: {public.scheme}  kek_id: {public.kek_id}")
