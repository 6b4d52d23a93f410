"""`ledger prove`: inclusion, consistency and run-completeness proofs from the database.

It prints an `agent-ledger/proof/v1` JSON document bound to a signed checkpoint; anyone holding
the trusted keys checks it offline with `ledger verify-proof`.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import connection, settings_from
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _uuid(text: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InputError(f"{what} must be a UUID, got {text!r}") from None


def _size(text: str | None, fallback: int | None) -> int | None:
    if text is None or text == "":
        return fallback
    if not text.isdigit():
        raise InputError(f"NEW_SIZE must be a tree size (a number), got {text!r}")
    return int(text)


@app.command("prove")
def prove(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="TARGET",
            help="The event to prove: an EVENT_ID, a TOOL_CALL_ID (as `ledger check` cites "
            "it: the call's tool.call.started) or a SEQ of the log (--tenant picks the log "
            "when the seq is in several). With --consistency: NEW_SIZE.",
        ),
    ] = None,
    consistency: Annotated[
        int | None, typer.Option("--consistency", help="Old tree size for a consistency proof.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Run id: prove the run complete.")
    ] = None,
    size: Annotated[
        int | None, typer.Option("--size", help="Use the checkpoint of this size.")
    ] = None,
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Tenant log for --consistency, or to narrow TARGET."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the proof here instead of stdout.")
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the proof JSON (default).")
    ] = True,
) -> None:
    """Emit an inclusion, consistency or run-completeness proof against a signed checkpoint.

    TARGET may be an event id, a tool_call_id or a seq: one that names several events (a seq
    in several logs, a retried call) is refused with the candidates (exit 2); one that names
    none exits 1.
    """
    from ledger.proofs import consistency_doc, inclusion_doc, resolve_event, run_doc

    settings = settings_from(ctx)
    if consistency is not None:
        new_size = _size(target, size)
        doc = consistency_doc(connection(ctx), settings.origin(tenant), consistency, new_size)
    elif run is not None:
        doc = run_doc(connection(ctx), _uuid(run, "--run"))
    elif target:
        if "\x00" in target or len(target) > 512:
            raise InputError("TARGET is not an event id, seq or tool_call_id")
        conn = connection(ctx)
        origin = settings.origin(tenant) if tenant is not None else None
        doc = inclusion_doc(conn, resolve_event(conn, target, origin), size)
    else:
        raise InputError(
            "give an EVENT_ID, TOOL_CALL_ID or SEQ, --consistency OLD_SIZE [NEW_SIZE] "
            "or --run RUN_ID"
        )
    text = json.dumps(doc, indent=2, sort_keys=True)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    elif json_out:
        typer.echo(text)
