"""`ledger show RUN_ID`: a run's stored events in order."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, parse_run_id
from ledger.errors import InputError
from ledger.terminal import printable

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
        e = s.event
        data = e.model_dump(mode="json", exclude_none=True).get("data", {})
        detail = (
            data.get("tool") or data.get("name") or data.get("status") or data.get("content", "")
        )
        typer.echo(
            f"{s.seq:>8}  {e.run_seq:>4}  {e.occurred_at[:23]}Z  {printable(e.type):<20} "
            f"{one_line(detail)}".rstrip()
        )
