"""`ledger approve APPROVAL_ID --as PRINCIPAL`: a signed decision on a recorded approval request.

The key is the approver's own: `--key` (a key file or a `pkcs11:` URI), else the key file that
`ledger keys approver NAME` made for `--as`. No key is ever created here, since a key made on
first use would let anyone approve as anyone. The registry in force (judged by `--trust-root`)
must name the approver with that very public key; otherwise the command refuses in one line and
records nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import (
    JsonOption,
    TrustRootOption,
    connection,
    duration_option,
    emit_json,
    settings_from,
)
from ledger.terminal import printable

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("approve")
def approve(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    approval_id: Annotated[str, typer.Argument(help="The approval id of the approval.requested.")],
    as_: Annotated[
        str, typer.Option("--as", metavar="PRINCIPAL", help="The approver (a registry principal).")
    ],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approve.")] = False,
    expires: Annotated[
        str | None,
        duration_option("--expires", help="Valid for this long: 90s, 15m, 24h."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, recorded.")] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key", metavar="FILE|URI",
            help="Approver key file or pkcs11: URI (default: its `ledger keys approver` key).",
        ),
    ] = None,
    trust_root: TrustRootOption = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Whose log (default: $LEDGER_TENANT).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Approve (or --reject) a pending approval with a signature the registry can verify."""
    from ledger.approver_keys import load_approver_signer
    from ledger.authority.decide import decide_signed
    from ledger.authority.trust import trust_root as load_root
    from ledger.when import parse_duration

    settings = settings_from(ctx)
    expires_in = parse_duration(expires, "--expires") if expires is not None else None
    root = load_root(trust_root)
    signer = load_approver_signer(settings, as_, key)
    done = decide_signed(
        connection(ctx), settings, approval_id=approval_id, approver=as_,
        decision="rejected" if reject else "approved", signer=signer, root=root,
        expires_in=expires_in, reason=reason, tenant=tenant,
    )
    claim = done.claim
    if json_out:
        emit_json({"event_id": str(done.event_id), "origin": done.origin,
                   "approval_id": approval_id, "decision": claim.decision,
                   "approver": claim.approver, "tool": claim.tool,
                   "tool_call_id": claim.tool_call_id, "args_hash": claim.args_hash,
                   "expires_at": claim.expires_at, "registry_hash": claim.registry,
                   "registry_version": done.registry_version,
                   "signing_key": done.signed.signing_key})
        return
    until = f" until {claim.expires_at}" if claim.expires_at else ""
    typer.echo(printable(
        f"{claim.decision}: {approval_id} ({claim.tool}) by {claim.approver}{until}, "
        f"signed with {done.signed.signing_key} under registry v{done.registry_version}"
    ))
