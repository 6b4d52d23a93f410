"""`ledger hold add|release|list`: legal holds that block redaction and archival.

A hold is a signed operator record (ledger.holds, ledger.retention): `--sign-with KEY` signs it
(the registry's service_key: `registry`, else `asserted` with the reason, as a gate result).
Exit codes: 0 done; 1 refused (a writer's login); 2 bad input, or releasing a hold that is not
recorded or already released (one line).
"""

from __future__ import annotations

import getpass
import uuid
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
)

if TYPE_CHECKING:
    from ledger.note import Signer
    from ledger.retention import Recorded

__all__ = ["ReasonOption", "SignWithOption", "app", "recorded_line", "recorder", "signer_of"]

app = typer.Typer(help="Legal holds (block redaction and archival).", no_args_is_help=True,
                  add_completion=False)  # fmt: skip

SignWithOption = Annotated[
    str | None,
    typer.Option("--sign-with", metavar="KEY",
                 help="Sign the record with this key file or pkcs11: URI (the registry's "
                      "service_key; without one the record is `asserted`)."),
]  # fmt: skip
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why (recorded in the log; required).")]


def recorder(as_: str | None) -> str:
    """`--as`, else the login name, as `ledger stop` does."""
    if as_:
        return as_
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def signer_of(spec: str | None) -> Signer | None:
    """The `--sign-with` key (one line KeyFileError / HsmError when it cannot be loaded)."""
    if spec is None:
        return None
    from ledger.gates import load_gate_signer

    return load_gate_signer(spec)


def recorded_line(recorded: Recorded) -> str:
    """`registry (signed)` or `asserted: why`."""
    if recorded.authority == "registry":
        return "registry (signed with the registry's service_key)"
    return f"asserted: {recorded.reason}"


@app.command("add")
def add(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", metavar="T", help="The tenant held.")],
    reason: ReasonOption = "",
    run: Annotated[str | None, typer.Option("--run", metavar="RUN_ID",
                                            help="Only this run of the tenant.")] = None,
    subject: Annotated[str | None, typer.Option("--subject", metavar="S",
                                                help="Only this data subject's events.")] = None,
    allow_unknown: Annotated[bool, typer.Option(
        "--allow-unknown", help="Hold a --subject with no payloads yet (deliberately, before "
                                "its data arrives).")] = False,
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a legal hold on a tenant (or one run, or one data subject of it)."""
    from ledger.authority.trust import trust_root
    from ledger.holds import add_hold
    from ledger.ids import parse_run_id

    run_id = parse_run_id(run) if run is not None else None
    root, signer = trust_root(trust_root_file), signer_of(sign_with)
    settings = settings_from(ctx)
    hold_id, recorded = add_hold(
        connection(ctx), settings, tenant=tenant, reason=reason, recorded_by=recorder(as_),
        run_id=run_id, subject=subject, signer=signer, root=root, allow_unknown=allow_unknown,
    )  # fmt: skip
    if json_out:
        emit_json({"hold_id": str(hold_id), "origin": recorded.origin,
                   "event_id": str(recorded.event_id), "authority": recorded.authority,
                   "authority_reason": recorded.reason})  # fmt: skip
        return
    say(f"hold {hold_id} added in {recorded.origin}: {recorded_line(recorded)}")


@app.command("release")
def release(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    hold_id: Annotated[str, typer.Argument(metavar="HOLD_ID", help="The hold to release.")],
    reason: ReasonOption = "",
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Release a legal hold (it and its release stay in the log)."""
    from ledger.authority.trust import trust_root
    from ledger.errors import InputError
    from ledger.holds import release_hold

    try:
        wanted = uuid.UUID(hold_id)
    except ValueError:
        raise InputError(f"not a hold id (UUID): {hold_id!r}") from None
    root, signer = trust_root(trust_root_file), signer_of(sign_with)
    hold, recorded = release_hold(connection(ctx), settings_from(ctx), wanted, reason=reason,
                                  recorded_by=recorder(as_), signer=signer, root=root)  # fmt: skip
    if json_out:
        emit_json({"hold_id": str(wanted), "origin": recorded.origin,
                   "event_id": str(recorded.event_id), "authority": recorded.authority,
                   "authority_reason": recorded.reason})  # fmt: skip
        return
    say(f"hold {wanted} ({hold.scope()}) released: {recorded_line(recorded)}")


def _row(conn: Any, hold: Any, root: Any) -> dict[str, Any]:
    """One hold as `hold list --json` shows it (its signature re-checked)."""
    from ledger.retention import check_record

    check = check_record(conn, hold.origin, hold.seq, hold.data, root=root)
    return {
        "hold_id": str(hold.hold_id), "origin": hold.origin, "seq": hold.seq,
        "tenant": hold.data.tenant, "run_id": hold.data.run_id and str(hold.data.run_id),
        "subject": hold.data.subject, "reason": hold.data.reason,
        "recorded_by": hold.data.recorded_by, "recorded_at": hold.recorded_at.isoformat(),
        "authority": check.authority, "signature_ok": check.ok, "check": check.reason,
        "released_seq": hold.released.seq if hold.released else None,
        "released_reason": hold.released.data.reason if hold.released else None,
        "tenant_detached": hold.detached,
    }  # fmt: skip


def _line(r: dict[str, Any], long: bool) -> list[str]:
    """A table row: the authority in a word (`registry`, `asserted`, or `registry (unchecked)`
    when its signature does not check), the state with `(tenant detached)`, and the reasons
    only with --long (--json has them all)."""
    state = "released" if r["released_seq"] is not None else "in force"
    state += " (tenant detached)" if r["tenant_detached"] else ""
    bad = r["authority"] == "registry" and not r["signature_ok"]
    authority = r["authority"] + (" (unchecked)" if bad else "")
    row = [r["hold_id"], r["tenant"], r["run_id"] or "-", r["subject"] or "-", state, authority]
    return [*row, r["reason"], r["check"]] if long else row


@app.command("list")
def list_(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Released holds too.")] = False,
    long: Annotated[bool, typer.Option(
        "--long", help="Also the hold's reason and the authority check's detail.")] = False,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """The holds in force (with --all, released ones too), each with its signature re-checked;
    holds of detached tenants are read from their detached tables and marked."""
    from ledger.authority.trust import trust_root
    from ledger.holds import detached_holds, list_holds

    root = trust_root(trust_root_file)
    conn = connection(ctx, migrate=False)
    gone = detached_holds(conn, active=not all_)
    rows = [_row(conn, h, root) for h in [*list_holds(conn, active=not all_), *gone.holds]]
    if json_out:
        emit_json(rows)
        return
    for tenant in gone.unreadable:
        say(f"note: tenant {tenant} is detached; its holds are in its detached events table, "
            "which only the ledger owner may read")  # fmt: skip
    if not rows:
        say("no holds in force" if not all_ else "no holds recorded")
        return
    head = ["HOLD", "TENANT", "RUN", "SUBJECT", "STATE", "AUTHORITY"]
    say(table([_line(r, long) for r in rows], [*head, "REASON", "CHECK"] if long else head))
