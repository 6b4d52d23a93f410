"""`ledger archive`: archive a tenant's oldest whole seq ranges (bundle + tiles, verified, then
detached), or with `--due`, what the recorded retention rules make due (exporters.archive).

Exit codes: 0 archived; 1 refused (nothing due, a hold covers the range, the bundle or tiles did
not verify: one line, nothing detached); 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    time_option,
    when,
)
from ledger.cli.hold_cmd import SignWithOption, recorded_line, recorder, signer_of

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _summary(archived: Any) -> dict[str, Any]:
    plan = archived.plan
    return {"tenant": plan.tenant, "origin": plan.origin, "seq_from": plan.lo,
            "seq_to": plan.hi, "partitions": list(archived.detached),
            "disposition": archived.disposition, "out": str(archived.out),
            "bundle_sha256": archived.bundle_sha256, "end_size": archived.end_size,
            "event_id": str(archived.recorded.event_id),
            "authority": archived.recorded.authority,
            "authority_reason": archived.recorded.reason}  # fmt: skip


def _line(archived: Any) -> str:
    from exporters.archive import seqs

    plan = archived.plan
    return (f"archived {seqs(plan.lo, plan.hi)} of {plan.origin} to {archived.out} "
            f"({len(archived.detached)} partition(s) {archived.disposition}; bundle sha256 "
            f"{archived.bundle_sha256}; pin size {archived.end_size}); "
            f"{recorded_line(archived.recorded)}")  # fmt: skip


@app.command("archive")
def archive(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    tenant: Annotated[str | None, typer.Option("--tenant", metavar="T",
                                               help="The tenant whose oldest ranges go.")] = None,
    before: Annotated[str | None, time_option("--before", "Every archived event occurred "
                                              "before")] = None,
    due: Annotated[bool, typer.Option("--due", help="Archive what the recorded retention "
                                      "rules make due, for every tenant.")] = False,
    out: Annotated[Path | None, typer.Option("--out", metavar="DIR",
                                             help="Where the bundle and tiles go (new or empty; "
                                             "default <home>/archives/T-LO-HI).")] = None,
    drop: Annotated[bool, typer.Option("--drop", help="Drop the partitions after detaching "
                                       "them (default: keep them detached).")] = False,
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a verified evidence bundle and tiles of the oldest whole ranges, then detach them.

    Refused (exit 1, nothing detached) when no whole partition qualifies, a legal hold covers
    any event of the range, or the bundle or tiles do not verify."""
    from exporters.archive import ArchiveRefused, archive_due, archive_range
    from ledger.authority.trust import trust_root
    from ledger.errors import InputError

    cutoff = when(before, "--before")
    if due == (tenant is not None or cutoff is not None):
        raise InputError("give --tenant T --before DATE, or --due")
    root, signer = trust_root(trust_root_file), signer_of(sign_with)
    settings, who = settings_from(ctx), recorder(as_)
    conn = connection(ctx)
    if not due:
        if tenant is None or cutoff is None:
            raise InputError("--tenant and --before go together")
        archived = archive_range(conn, settings, tenant=tenant, before=cutoff, out=out,
                                 drop=drop, recorded_by=who, signer=signer, root=root)
        if json_out:
            emit_json(_summary(archived))
        else:
            say(_line(archived))
        return
    outcomes = archive_due(conn, settings, out=out, drop=drop, recorded_by=who, signer=signer,
                           root=root)  # fmt: skip
    if json_out:
        emit_json([{"tenant": o.tenant, "before": o.before.isoformat(), "reason": o.reason,
                    "archived": o.archived and _summary(o.archived)} for o in outcomes])
    else:
        for o in outcomes:
            say(_line(o.archived) if o.archived else f"{o.tenant}: {o.reason}")
        if not outcomes:
            say("no tenant has a \"*\" retention rule: nothing is due")
    if outcomes and all(o.archived is None for o in outcomes):
        raise ArchiveRefused("nothing archived")
