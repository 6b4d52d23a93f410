"""`ledger tiles export DIR`: the log as static C2SP tlog-tiles files an auditor can fetch."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.cli.common import JsonOption, connection, emit_json, settings_from

__all__ = ["app"]

app = typer.Typer(help="Static tlog-tiles for auditors.", no_args_is_help=True,
                  add_completion=False)


@app.callback()
def tiles() -> None:
    """Static C2SP tlog-tiles (docs/tiles.md): what any tlog-tiles client can fetch and check."""


@app.command("export")
def export(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Argument(
        metavar="DIR", help="Where to write <tenant>/checkpoint and <tenant>/tile/... "
        "(created if missing; brought up to date if already exported).")],
    tenant: Annotated[str | None, typer.Option(
        "--tenant", help="Only this tenant's log (default: every log with a checkpoint).")] = None,
    no_entries: Annotated[bool, typer.Option(
        "--no-entries", help="Write the hash tiles and checkpoint only (no tile/entries "
        "bundles of event bodies).")] = False,
    json_out: JsonOption = False,
) -> None:
    """Write the C2SP tlog-tiles layout (checkpoint, tile/<L>/<N>[.p/<W>], tile/entries/<N>)
    of each log under DIR/<tenant>/, incrementally: files already there are not rewritten,
    and the checkpoint is written last. docs/tiles.md says how an auditor verifies them.

    Each log on its own: one that fails is an `error:` line and the others are still exported;
    then exit 1 if any log's stored tiles or bodies disagree with its checkpoint, else 2."""
    from ledger.terminal import printable
    from ledger.tiles_static import TileExport, export_all

    settings = settings_from(ctx)
    done = export_all(connection(ctx), settings.origin_prefix, out_dir, tenant=tenant,
                      entries=not no_entries)
    ok = [e for e in done if isinstance(e, TileExport)]
    failed = [f for f in done if not isinstance(f, TileExport)]
    if json_out:
        emit_json([
            {"origin": e.origin, "size": e.size, "tiles_written": e.tiles_written,
             "entries_written": e.entries_written, "bytes_written": e.bytes_written,
             "checkpoint": str(e.checkpoint_path), "checkpoint_written": e.checkpoint_written,
             "omitted": list(e.omitted), "pruned": e.pruned}
            for e in ok] + [{"origin": f.origin, "error": f.reason} for f in failed])
    elif not done:
        typer.echo("no log has a checkpoint yet: nothing exported")
    for e in [] if json_out else ok:
        omitted = f", {len(e.omitted)} entry bundles omitted (see .omitted)" if e.omitted else ""
        typer.echo(f"{printable(e.origin)}: size {e.size}, {e.tiles_written} tiles and "
                   f"{e.entries_written} entry bundles written ({e.bytes_written} bytes){omitted}"
                   f" -> {printable(str(e.checkpoint_path))}")
    for f in failed:
        typer.echo(f"error: {printable(f.reason)}", err=True)
    if failed:
        raise typer.Exit(1 if any(f.mismatch for f in failed) else 2)
