"""`ledger show RUN_ID`: a run's stored events in order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import JsonOption, connection, emit_json, parse_run_id
from ledger.errors import InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    from ledger.store.read import StoredEvent

__all__ = ["app", "one_line"]

app = typer.Typer(add_completion=False)

DETAIL_WIDTH = 60
_BREAKS = str.maketrans({"\r": "\\r", "\n": "\\n", "\t": "\\t"})


def one_line(value: object, width: int = DETAIL_WIDTH) -> str:
    """A writer's value as one printable cell of at most `width` characters.

    Why: the detail column quotes message content and tool names a writer chose; a newline or a
    tab in it would break the table (and a control sequence could rewrite the terminal). Line
    breaks and tabs read as `\\n`, `\\t`; other controls as `printable` escapes them; a cell
    cut short ends in `…` so a reader knows there is more (`ledger show --json` has it all).
    """
    if not isinstance(value, str):
        import orjson

        value = orjson.dumps(value, default=str).decode()
    text = printable(value.translate(_BREAKS))
    return text if len(text) <= width else text[: width - 1] + "…"


@app.command("show")
def show(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(help="The run to print.")],
    json_out: JsonOption = False,
) -> None:
    """Print a run's events in order."""
    import orjson

    from ledger.store.read import run_events

    rid = parse_run_id(run_id)
    stored = run_events(connection(ctx, migrate=False), rid)
    if not stored:
        raise InputError(f"no run {rid} in the ledger")
    if json_out:
        emit_json(
            [
                {"seq": s.seq, "leaf_hash": s.leaf_hash.hex(), "event": orjson.loads(s.body)}
                for s in stored
            ]
        )
        return
    for s in stored:  # each line through `printable`: tool names and content are a writer's text
        run_seq, occurred_at, kind, data = _fields(s)
        detail = (
            data.get("tool") or data.get("name") or data.get("status") or data.get("content", "")
        )
        typer.echo(
            f"{s.seq:>8}  {run_seq:>4}  {occurred_at[:23]}Z  {printable(kind):<20} "
            f"{one_line(detail)}".rstrip()
        )


def _fields(stored: StoredEvent) -> tuple[int, str, str, dict[str, Any]]:
    """(run_seq, occurred_at, type, data) of a stored event. The stored bytes are the event's
    documented JSON (ledger.events.to_json), so a well-formed body is read as it is, without
    building pydantic's event models (issue 18: `show` within 0.5 s); a body in any doubt (a
    time not in the normal form, a missing field) is decoded by the model, as before."""
    import orjson

    doc = orjson.loads(stored.body)
    data = doc.get("data", {}) if isinstance(doc, dict) else None
    if isinstance(data, dict):
        run_seq, occurred, kind = doc.get("run_seq"), doc.get("occurred_at"), doc.get("type")
        if (type(run_seq) is int and isinstance(kind, str) and isinstance(occurred, str)
                and len(occurred) == 30 and occurred[10] == "T" and occurred[19] == "."
                and occurred[29] == "Z"):
            return run_seq, occurred, kind, data
    e = stored.event
    dumped = e.model_dump(mode="json", exclude_none=True).get("data", {})
    return e.run_seq, e.occurred_at, e.type, dumped
