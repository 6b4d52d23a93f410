"""Compensators and probes for the demo tools, against a small CRM kept in PostgreSQL tables.

The demo CRM is two tables (`crm_contacts`, `crm_refunds`) and an SMTP server for mail. They
stand in for real SaaS systems so the whole undo path — probe, compensate, record — runs
against something real in tests and tabletop exercises. Import this module to register them.
"""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage
from typing import Any, LiteralString

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ledger.db.sqlfiles import query
from replay.undo.compensators import compensator
from replay.undo.probes import UndoContext, probe

__all__ = ["CONTACT_FIELDS", "SCHEMA"]

CONTACT_FIELDS = ("name", "email", "tier", "status")
SCHEMA: LiteralString = query("demo_crm_tables")


def _field(args: dict[str, Any]) -> str:
    name = str(args["field"])
    if name not in CONTACT_FIELDS:
        raise ValueError(f"unknown CRM field {name!r}")
    return name


@probe("crm.get_field")
def get_field(args: dict[str, Any], ctx: UndoContext) -> Any:
    params = {"field": _field(args), "id": args["record_id"]}
    row = ctx.conn.execute(query("demo_contact_field"), params).fetchone()
    return None if row is None else row[0]


@probe("crm.get_record")
def get_record(args: dict[str, Any], ctx: UndoContext) -> Any:
    with ctx.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query("demo_contact"), (args["record_id"],)).fetchone()
    return None if row is None else dict(row)


@probe("payments.get_refund")
def get_refund(args: dict[str, Any], ctx: UndoContext) -> Any:
    row = ctx.conn.execute(query("demo_refund_status"), (args["refund_id"],)).fetchone()
    return None if row is None else row[0]


@compensator("crm.restore_field", sandbox=True)
def restore_field(args: dict[str, Any], ctx: UndoContext) -> Any:
    params = {"field": _field(args), "value": args["value"], "id": args["record_id"]}
    cur = ctx.conn.execute(query("demo_set_contact_field"), params)
    if cur.rowcount != 1:
        raise LookupError(f"contact {args['record_id']} not found")
    return {"restored": args["field"]}


@compensator("crm.restore_record", sandbox=True)
def restore_record(args: dict[str, Any], ctx: UndoContext) -> Any:
    row = args["row"]
    attrs = row.get("attrs")
    ctx.conn.execute(
        query("demo_restore_contact"),
        (
            row["id"],
            row.get("name"),
            row.get("email"),
            row.get("tier"),
            row.get("status"),
            Jsonb(attrs) if attrs is not None else None,
        ),
    )
    return {"restored": row["id"]}


@compensator("payments.reverse_refund", sandbox=True)
def reverse_refund(args: dict[str, Any], ctx: UndoContext) -> Any:
    cur = ctx.conn.execute(query("demo_reverse_refund"), (args["refund_id"],))
    if cur.rowcount != 1:
        raise LookupError(f"refund {args['refund_id']} is missing or not reversible")
    return {"reversed": args["refund_id"]}


SMTP_FIX = "set LEDGER_UNDO_SMTP=HOST:PORT (or pass --smtp to ledger undo) and relaunch"


def _relay(ctx: UndoContext) -> tuple[str, int]:
    return str(ctx.extra.get("smtp_host", "127.0.0.1")), int(ctx.extra.get("smtp_port", 25))


def smtp_problem(ctx: UndoContext, exc: BaseException) -> str:
    """The one line for a mail relay that cannot be reached: where, why, and how to point the
    undo at the right one (the TUI has no --smtp: it reads LEDGER_UNDO_SMTP)."""
    host, port = _relay(ctx)
    why = str(exc) or type(exc).__name__
    if "smtp_host" not in ctx.extra:
        return f"mail relay not configured (tried the default {host}:{port}: {why}); {SMTP_FIX}"
    return f"mail relay unreachable at {host}:{port}: {why}; start it, or {SMTP_FIX}"


def smtp_reach(ctx: UndoContext) -> str | None:
    """Does the mail relay accept a connection? (Opens and closes a TCP connection, sends
    nothing: safe in a dry run.)"""
    try:
        socket.create_connection(_relay(ctx), timeout=3).close()
    except OSError as exc:
        return smtp_problem(ctx, exc)
    return None


@compensator("email.send_correction", reach=smtp_reach)
def send_correction(args: dict[str, Any], ctx: UndoContext) -> Any:
    msg = EmailMessage()
    msg["From"] = str(ctx.extra.get("mail_from", "undo@agent-ledger.local"))
    msg["To"] = str(args["to"])
    msg["Subject"] = str(args["subject"])
    if args.get("in_reply_to"):
        msg["In-Reply-To"] = str(args["in_reply_to"])
    msg["X-Idempotency-Key"] = ctx.idempotency_key
    msg.set_content(str(args.get("body", "")))
    host, port = _relay(ctx)
    try:
        relay = smtplib.SMTP(host, port, timeout=10)
    except OSError as exc:  # named with the relay and the fix, not a bare ConnectionRefusedError
        raise ConnectionError(smtp_problem(ctx, exc)) from None
    with relay as smtp:
        smtp.send_message(msg)
    return {"sent_to": args["to"]}
