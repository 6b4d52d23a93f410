"""Compensators and probes for the demo tools, against a small CRM kept in PostgreSQL tables.

The demo CRM is two tables (`crm_contacts`, `crm_refunds`) and an SMTP server for mail. They
stand in for real SaaS systems so the whole undo path — probe, compensate, record — runs
against something real in tests and tabletop exercises. Import this module to register them.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any, LiteralString

from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from replay.undo.executor import compensator
from replay.undo.probes import UndoContext, probe

__all__ = ["CONTACT_FIELDS", "SCHEMA"]

CONTACT_FIELDS = ("name", "email", "tier", "status")
SCHEMA: LiteralString = """
CREATE TABLE IF NOT EXISTS crm_contacts (
    id text PRIMARY KEY, name text, email text, tier text, status text, attrs jsonb);
CREATE TABLE IF NOT EXISTS crm_refunds (
    refund_id text PRIMARY KEY, charge_id text NOT NULL, amount_cents bigint NOT NULL,
    status text NOT NULL);
"""
GET_RECORD: LiteralString = (
    "SELECT id, name, email, tier, status, attrs FROM crm_contacts WHERE id = %s"
)
RESTORE_RECORD: LiteralString = """
INSERT INTO crm_contacts (id, name, email, tier, status, attrs) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, tier = EXCLUDED.tier,
    status = EXCLUDED.status, attrs = EXCLUDED.attrs
"""
REVERSE_REFUND: LiteralString = """
UPDATE crm_refunds SET status = 'reversed'
WHERE refund_id = %s AND status IN ('succeeded', 'reversed')
"""
GET_REFUND: LiteralString = "SELECT status FROM crm_refunds WHERE refund_id = %s"


def _field(args: dict[str, Any]) -> sql.Identifier:
    name = str(args["field"])
    if name not in CONTACT_FIELDS:
        raise ValueError(f"unknown CRM field {name!r}")
    return sql.Identifier(name)


@probe("crm.get_field")
def get_field(args: dict[str, Any], ctx: UndoContext) -> Any:
    q = sql.SQL("SELECT {} FROM crm_contacts WHERE id = %s").format(_field(args))
    row = ctx.conn.execute(q, (args["record_id"],)).fetchone()
    return None if row is None else row[0]


@probe("crm.get_record")
def get_record(args: dict[str, Any], ctx: UndoContext) -> Any:
    with ctx.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(GET_RECORD, (args["record_id"],)).fetchone()
    return None if row is None else dict(row)


@probe("payments.get_refund")
def get_refund(args: dict[str, Any], ctx: UndoContext) -> Any:
    row = ctx.conn.execute(GET_REFUND, (args["refund_id"],)).fetchone()
    return None if row is None else row[0]


@compensator("crm.restore_field", sandbox=True)
def restore_field(args: dict[str, Any], ctx: UndoContext) -> Any:
    q = sql.SQL("UPDATE crm_contacts SET {} = %s WHERE id = %s").format(_field(args))
    cur = ctx.conn.execute(q, (args["value"], args["record_id"]))
    if cur.rowcount != 1:
        raise LookupError(f"contact {args['record_id']} not found")
    return {"restored": args["field"]}


@compensator("crm.restore_record", sandbox=True)
def restore_record(args: dict[str, Any], ctx: UndoContext) -> Any:
    row = args["row"]
    attrs = row.get("attrs")
    ctx.conn.execute(
        RESTORE_RECORD,
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
    cur = ctx.conn.execute(REVERSE_REFUND, (args["refund_id"],))
    if cur.rowcount != 1:
        raise LookupError(f"refund {args['refund_id']} is missing or not reversible")
    return {"reversed": args["refund_id"]}


@compensator("email.send_correction")
def send_correction(args: dict[str, Any], ctx: UndoContext) -> Any:
    msg = EmailMessage()
    msg["From"] = str(ctx.extra.get("mail_from", "undo@agent-ledger.local"))
    msg["To"] = str(args["to"])
    msg["Subject"] = str(args["subject"])
    if args.get("in_reply_to"):
        msg["In-Reply-To"] = str(args["in_reply_to"])
    msg["X-Idempotency-Key"] = ctx.idempotency_key
    msg.set_content(str(args.get("body", "")))
    host = str(ctx.extra.get("smtp_host", "127.0.0.1"))
    port = int(ctx.extra.get("smtp_port", 25))
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        smtp.send_message(msg)
    return {"sent_to": args["to"]}
