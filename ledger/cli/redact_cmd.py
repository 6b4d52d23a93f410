"""`ledger redact`: erase a subject's sensitive content (crypto-shredding) with a signed event."""

from __future__ import annotations

import typer

from ledger.cli.common import connection, settings_from
from ledger.privacy import redact_subject
from ledger.store.sequencer import try_sequence

__all__ = ["redact"]


def redact(
    ctx: typer.Context,
    subject: str = typer.Option(..., "--subject", help="Data subject whose content is erased."),
    reason: str = typer.Option(..., "--reason", help="Legal basis / reason (logged)."),
    authorised_by: str | None = typer.Option(None, "--authorised-by", help="Who authorised it."),
    tenant: str | None = typer.Option(None, "--tenant", help="Tenant log (default: configured)."),
) -> None:
    """Shred SUBJECT's key and payloads, then log a signed `redaction` event naming them."""
    settings = settings_from(ctx)
    conn = connection(ctx)
    event = redact_subject(conn, settings, subject, reason, authorised_by, tenant)
    try_sequence(conn, settings, wait=True)
    count = len(event.data.commitments)
    typer.echo(
        f"redacted {count} field(s) of subject {subject!r}; redaction event {event.event_id}"
    )
