"""`ledger retention set|list`: retention rules per tenant and event class, and what is due.

A rule is a signed operator record (ledger.retention): the newest per (tenant, class) is in
force. `list` says, per rule, how many events are past their keep now; `ledger archive --due`
archives the whole seq ranges every rule agrees on (docs/retention.md).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ledger.cli.common import (
    AsOption,
    JsonOption,
    TrustRootOption,
    connection,
    duration_option,
    emit_json,
    say,
    settings_from,
    table,
)
from ledger.cli.hold_cmd import ReasonOption, SignWithOption, recorded_line, recorder, signer_of

__all__ = ["app"]

app = typer.Typer(help="Retention rules per tenant and event class.", no_args_is_help=True,
                  add_completion=False)  # fmt: skip


@app.command("set")
def set_(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    tenant: Annotated[str, typer.Option("--tenant", metavar="T", help="The tenant it governs.")],
    keep: Annotated[str, duration_option("--keep", help="How long to keep (e.g. 400d).")],
    event_class: Annotated[str, typer.Option(
        "--class", metavar="C", help='"*", an event type, or a prefix such as "llm.*".',
    )] = "*",
    reason: ReasonOption = "",
    as_: AsOption = None,
    sign_with: SignWithOption = None,
    trust_root_file: TrustRootOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record a retention rule (it replaces the rule for the same tenant and class)."""
    from ledger.authority.trust import trust_root
    from ledger.retention import set_rule

    root, signer = trust_root(trust_root_file), signer_of(sign_with)
    recorded = set_rule(
        connection(ctx), settings_from(ctx), tenant=tenant, event_class=event_class, keep=keep,
        reason=reason, recorded_by=recorder(as_), signer=signer, root=root,
    )  # fmt: skip
    if json_out:
        emit_json({"origin": recorded.origin, "event_id": str(recorded.event_id),
                   "authority": recorded.authority, "authority_reason": recorded.reason})
        return
    say(f"retention rule for {tenant} {event_class}: keep {keep.lower()}; "
        f"{recorded_line(recorded)}")  # fmt: skip


@app.command("list")
def list_(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """The rules in force and, per rule, the events past their keep now (due for archival)."""
    from ledger.retention import due_rules, rules_in_force

    conn = connection(ctx, migrate=False)
    rows: list[dict[str, Any]] = [
        {"tenant": d.rule.data.tenant, "class": d.rule.data.event_class,
         "keep": d.rule.data.keep, "reason": d.rule.data.reason, "origin": d.rule.origin,
         "seq": d.rule.seq, "authority": d.rule.data.authority,
         "cutoff": d.cutoff.isoformat(), "due_events": d.events,
         "due_seq": None if d.first_seq is None else [d.first_seq, d.last_seq]}
        for d in due_rules(conn, rules_in_force(conn))
    ]  # fmt: skip
    if json_out:
        emit_json(rows)
        return
    if not rows:
        say("no retention rules recorded")
        return
    say(table([[r["tenant"], r["class"], r["keep"], str(r["due_events"]),
                "-" if r["due_seq"] is None else f"{r['due_seq'][0]}..{r['due_seq'][1]}",
                r["cutoff"], r["reason"]] for r in rows],
              ["TENANT", "CLASS", "KEEP", "DUE", "SEQ", "BEFORE", "REASON"]))  # fmt: skip
