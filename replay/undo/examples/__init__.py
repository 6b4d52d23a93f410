"""Example effect contracts and compensators for the demo tools (CRM, payments, email)."""

from pathlib import Path

CONTRACTS_DIR = Path(__file__).with_name("contracts")
