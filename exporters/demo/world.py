"""The systems the demo agents act on: a small CRM, a payments ledger and an outbox.

They are tables in their own schema (`demo_crm`) of the ledger's PostgreSQL, standing in for
SaaS systems so that pre-state capture, drift and compensation run against something real.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from ledger.config import Settings
from ledger.db.connect import database_dsn
from ledger.db.sqlfiles import query

__all__ = ["World"]

SEED: list[tuple[str, str, str, str, str]] = [
    ("acme", "Acme Corp", "jane@acme-corp.com", "gold", "prospect"),
    ("globex", "Globex", "hank@globex.com", "silver", "customer"),
    ("initech", "Initech", "bill@initech.com", "bronze", "customer"),
]


class World:
    """Connection to the demo systems plus the tool bodies the agents call."""

    def __init__(self, settings: Settings) -> None:
        self.conn = psycopg.connect(
            database_dsn(settings), autocommit=True, options="-c search_path=demo_crm,public"
        )
        self.conn.execute(query("demo_world_schema"))
        for row in SEED:
            self.conn.execute(query("demo_seed_contact"), (*row, Jsonb({})))

    # -- tools ---------------------------------------------------------------------------------
    def update_field(self, record_id: str, field: str, value: str) -> dict[str, Any]:
        """crm.update_field: set one field of a contact."""
        if field not in ("status", "tier", "email", "name"):
            raise ValueError(f"unknown field {field!r}")
        self.conn.execute(
            query("demo_set_contact_field"), {"field": field, "value": value, "id": record_id}
        )
        return {"record_id": record_id, "field": field, "value": value}

    def export_contacts(self) -> list[dict[str, Any]]:
        """crm.export_contacts: read the customer list (read-only)."""
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query("demo_contacts"))
            return [dict(r) for r in rows.fetchall()]

    def send_email(self, to: str, subject: str, body: str) -> dict[str, Any]:
        """email.send: put a message in the outbox (the demo's mail transport)."""
        message_id = f"<{uuid.uuid4().hex[:12]}@demo.agent-ledger>"
        self.conn.execute(query("demo_send_email"), (message_id, to, subject, body))
        return {"message_id": message_id, "to": to}

    def refund(self, charge_id: str, amount_usd: str) -> dict[str, Any]:
        """payments.refund: refund a charge."""
        refund_id = f"rf_{uuid.uuid4().hex[:8]}"
        cents = round(float(amount_usd) * 100)
        self.conn.execute(query("demo_refund"), (refund_id, charge_id, cents))
        return {"refund_id": refund_id, "charge_id": charge_id, "amount_usd": amount_usd}

    def lookup_order(self, order_id: str) -> dict[str, Any]:
        """orders.lookup: read an order (read-only)."""
        return {"order_id": order_id, "status": "delivered", "charge_id": f"ch_{order_id}"}
