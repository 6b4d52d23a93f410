"""Fixtures for undo tests: a tiny CRM in the test database, an SMTP sink, a scripted agent.

The CRM tables are created here, in the test's own database (not in a migration): they stand
in for the SaaS system an agent changes. Mail goes to a real SMTP server (aiosmtpd) on
127.0.0.1. The agent runs through the real hooks (`ledger.hooks.run`), with the contract
digest on each intent and the declared pre-state on each outcome (replay.undo.capture).
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage, Message
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller

import replay.undo.examples.demo  # noqa: F401  (registers compensators and probes)
from ledger.config import Settings
from ledger.hooks import configure, decide, run, shutdown
from ledger.store.sequencer import try_sequence
from replay.undo.capture import call_with_contract
from replay.undo.contracts import ContractRegistry, load_contracts
from replay.undo.examples import CONTRACTS_DIR
from replay.undo.examples.demo import SCHEMA
from replay.undo.probes import UndoContext
from tests.conftest import free_port as _free_port

SEED = [
    ("c1", "Ada Lovelace", "ada@example.com", "silver", "active"),
    ("c2", "Grace Hopper", "grace@example.com", "gold", "active"),
    ("c3", "Alan Turing", "alan@example.com", "bronze", "active"),
]


class Sink:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class Smtp:
    host: str
    port: int
    sink: Sink

    def send(self, to: str, subject: str, body: str) -> dict[str, Any]:
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bot@example.com", to, subject
        msg["Message-ID"] = f"<{subject.replace(' ', '-')}@agent>"
        msg.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as s:
            s.send_message(msg)
        return {"message_id": msg["Message-ID"]}


def _ids(result: Any) -> tuple[str, ...]:
    return tuple(v for v in result.values() if isinstance(v, str))




@pytest.fixture
def smtp() -> Iterator[Smtp]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield Smtp("127.0.0.1", port, sink)
    controller.stop()


def crm_snapshot(conn: psycopg.Connection) -> dict[str, Any]:
    """The whole CRM state, for exact before/after comparison."""
    contacts = conn.execute(
        "SELECT id, name, email, tier, status, attrs FROM crm_contacts ORDER BY id"
    ).fetchall()
    refunds = conn.execute(
        "SELECT refund_id, charge_id, amount_cents, status FROM crm_refunds ORDER BY refund_id"
    ).fetchall()
    return {"contacts": contacts, "refunds": refunds}


@pytest.fixture
def crm(ledger_conn: psycopg.Connection) -> psycopg.Connection:
    ledger_conn.execute(SCHEMA)
    with ledger_conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO crm_contacts (id, name, email, tier, status, attrs) "
            'VALUES (%s, %s, %s, %s, %s, \'{"src": "seed"}\')',
            SEED,
        )
    return ledger_conn


@pytest.fixture
def registry() -> ContractRegistry:
    return load_contracts([CONTRACTS_DIR])


@pytest.fixture
def hooks(ledger_settings: Settings) -> Iterator[None]:
    configure(ledger_settings, sequence=True, sequence_interval=0.0)
    yield
    shutdown()


@dataclass
class Agent:
    """The scripted support agent: real tools against the CRM tables and the SMTP sink."""

    conn: psycopg.Connection
    settings: Settings
    registry: ContractRegistry
    smtp: Smtp
    refunds: list[str] = field(default_factory=list)

    @property
    def ctx(self) -> UndoContext:
        return UndoContext(conn=self.conn)

    def update_field(self, record_id: str, field: str, value: Any) -> dict[str, Any]:
        self.conn.execute(
            psycopg.sql.SQL("UPDATE crm_contacts SET {} = %s WHERE id = %s").format(
                psycopg.sql.Identifier(field)
            ),
            (value, record_id),
        )
        return {"updated": record_id}

    def delete_record(self, record_id: str) -> dict[str, Any]:
        self.conn.execute("DELETE FROM crm_contacts WHERE id = %s", (record_id,))
        return {"deleted": record_id}

    def refund(self, charge_id: str, amount_cents: int) -> dict[str, Any]:
        refund_id = f"re_{charge_id}_{len(self.refunds) + 1}"
        self.conn.execute(
            "INSERT INTO crm_refunds VALUES (%s, %s, %s, 'succeeded')",
            (refund_id, charge_id, amount_cents),
        )
        self.refunds.append(refund_id)
        return {"refund_id": refund_id}

    def call(self, r: Any, tool: str, fn: Any, **args: Any) -> Any:
        return call_with_contract(r, self.registry, self.ctx, tool, args, fn, result_ids=_ids)

    def script(self, user: str = "alice", approver: str = "bob") -> Any:
        """Update two fields of c1, email c1, refund (approved by `approver`), edit+delete c2."""
        with run(agent="support-bot", user=user, task="clean up account c1") as r:
            self.call(
                r, "crm.update_field", self.update_field, record_id="c1", field="tier", value="gold"
            )
            self.call(
                r,
                "crm.update_field",
                self.update_field,
                record_id="c1",
                field="status",
                value="vip",
            )
            self.call(
                r,
                "email.send",
                self.smtp.send,
                to="ada@example.com",
                subject="Your upgrade",
                body="You are now VIP.",
            )
            args = {"charge_id": "ch_1", "amount_cents": 5000}
            approval = r.request_approval("payments.refund", args, reason="goodwill refund")
            decide(approval, approver=approver, roles=["support-lead"])
            self.call(r, "payments.refund", self.refund, **args)
            self.call(
                r,
                "crm.update_field",
                self.update_field,
                record_id="c2",
                field="name",
                value="G. Hopper",
            )
            self.call(r, "crm.delete_record", self.delete_record, record_id="c2")
        self.settle()
        return r.run_id

    def settle(self) -> None:
        from ledger.hooks import flush

        assert flush(30)
        try_sequence(self.conn, self.settings, wait=True)


@pytest.fixture
def agent(
    crm: psycopg.Connection,
    ledger_settings: Settings,
    registry: ContractRegistry,
    smtp: Smtp,
    hooks: None,
) -> Agent:
    return Agent(crm, ledger_settings, registry, smtp)
