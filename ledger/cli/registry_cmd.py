"""`ledger registry sign|publish|show`: the principal registry that judges every *who*.

Signing and publishing are separate steps so the administrator key never has to be where the
database is: sign on the administrator's machine (or with the key in a PKCS#11 token), carry the
signed file over, publish it. Every step that judges takes `--trust-root`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    err,
    input_argument,
    settings_from,
)
from ledger.terminal import printable

__all__ = ["app"]

app = typer.Typer(
    help="The principal registry: who is who, their roles and keys, who may stop and approve.",
    no_args_is_help=True,
    add_completion=False,
)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Whose log (default: $LEDGER_TENANT or default).")
]


@app.command("sign")
def sign(
    ctx: typer.Context,
    file: Annotated[str, input_argument("Registry YAML file, or - for stdin.")],
    key: Annotated[
        str,
        typer.Option(
            "--key",
            help="Administrator key: a file, a pkcs11: URI, or NAME of `ledger keys admin NAME`.",
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Signed file (default: FILE.signed.json; stdout for -)."),
    ] = None,
) -> None:
    """Snapshot the providers' JWKS, then sign the registry's content address."""
    import json
    import sys

    from ledger.authority.signed import load_registry_yaml, parse_registry_yaml, sign_registry
    from ledger.keys import load_key

    if file == "-":
        registry = parse_registry_yaml(sys.stdin.read(), Path.cwd(), "<stdin>")
    else:
        registry = load_registry_yaml(Path(file))
    named = settings_from(ctx).keys_dir / "admin" / f"{key}.key"
    spec = str(named) if "/" not in key and not Path(key).exists() and named.exists() else key
    signed = sign_registry(registry, load_key(spec, None))
    text = json.dumps(signed.to_json(), indent=2, sort_keys=True) + "\n"
    meta = registry.registry
    done = f"signed {meta.name} v{meta.version} ({signed.digest[:16]})"
    if out is None and file == "-":
        sys.stdout.write(text)
        err(done)
        return
    target = out or Path(file).with_name(Path(file).stem + ".signed.json")
    target.write_text(text, encoding="utf-8")
    typer.echo(f"{done} -> {target}")


@app.command("publish")
def publish(
    ctx: typer.Context,
    file: Annotated[Path, input_argument("Signed registry (from `ledger registry sign`).")],
    trust_root: TrustRootOption = None,
    tenant: TenantOption = None,
    json_out: JsonOption = False,
) -> None:
    """Publish a signed registry version into the log (refused unless the trust root signed it)."""
    from ledger.authority.service import publish_registry
    from ledger.authority.signed import SignedRegistry
    from ledger.authority.trust import trust_root as load_root

    settings = settings_from(ctx)
    signed = SignedRegistry.read(file)
    result = publish_registry(
        connection(ctx), settings, signed, load_root(trust_root), tenant=tenant
    )
    if json_out:
        emit_json({"digest": result.digest, "name": result.name, "version": result.version,
                   "origin": result.origin, "already_published": result.already_published,
                   "event_id": str(result.event_id) if result.event_id else None})
        return
    state = "already in force" if result.already_published else "published"
    what = f"{result.name} v{result.version} ({result.digest[:16]})"
    typer.echo(f"{state}: {what} in {result.origin}")


@app.command("show")
def show(
    ctx: typer.Context,
    trust_root: TrustRootOption = None,
    tenant: TenantOption = None,
    json_out: JsonOption = False,
) -> None:
    """The registry in force, and every publication the trust root refused (and why)."""
    from ledger.authority.service import load_history
    from ledger.authority.trust import trust_root as load_root

    settings = settings_from(ctx)
    history = load_history(connection(ctx, migrate=False), settings.origin(tenant),
                           load_root(trust_root))
    now = history.latest()
    registry = now.registry
    if json_out:
        emit_json({
            "status": now.status, "reason": now.reason, "digest": now.digest, "seq": now.seq,
            "registry": registry.model_dump(mode="json") if registry else None,
            "refused": [{"seq": r.seq, "reason": r.reason} for r in history.refused],
        })
        return
    if registry is None:
        typer.echo(f"no registry in force: {printable(now.reason)}")
    else:
        meta = registry.registry
        line = f"{meta.name} v{meta.version} ({now.digest}) published at seq {now.seq}"
        typer.echo(printable(line))
        for p in registry.principals:
            key = "approver key" if p.approver_key else "no approver key"
            typer.echo(printable(f"  {p.id} ({p.kind}) roles: {', '.join(p.roles) or '-'}; {key}"))
    for refused in history.refused:
        typer.echo(f"refused at seq {refused.seq}: {printable(refused.reason)}")
