"""`ledger redact`: erase a subject's sensitive content (crypto-shredding) with a signed event."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import AsOption, connection, deprecated_as, principal, settings_from

__all__ = ["app"]

app = typer.Typer(add_completion=False)


@app.command("redact")
def redact(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    subject: Annotated[
        str, typer.Option("--subject", help="Data subject whose content is erased.")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Legal basis / reason (logged).")],
    as_: AsOption = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Tenant log (default: configured).")
    ] = None,
    authorised_by: Annotated[str | None, deprecated_as("--authorised-by")] = None,
) -> None:
    """Shred SUBJECT's key and payloads, then log a signed `redaction` event naming them."""
    from ledger.privacy import redact_subject
    from ledger.store.sequencer import try_sequence

    who = principal(as_, "--authorised-by", authorised_by)
    settings = settings_from(ctx)
    conn = connection(ctx)
    event = redact_subject(conn, settings, subject, reason, who, tenant)
    try_sequence(conn, settings, wait=True)
    count = len(event.data.commitments)
    typer.echo(
        f"redacted {count} field(s) of subject {subject!r}; redaction event {event.event_id}"
    )
