"""Example effect contracts and compensators for the demo tools (CRM, payments, email).

`CONTRACTS_DIR` declares the side-effecting demo tools; `DEMO_CONTRACTS_DIR` the demo agents'
read-only tools (declared so a plan and coverage know they change nothing). The demo's systems
live in the `DEMO_SCHEMA` schema of the ledger's database, where probes and compensators look
first by default (see `replay.undo.service.undo_target`).
"""

from pathlib import Path

CONTRACTS_DIR = Path(__file__).with_name("contracts")
DEMO_CONTRACTS_DIR = Path(__file__).with_name("demo_contracts")
DEMO_SCHEMA = "demo_crm"
