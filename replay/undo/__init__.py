"""Undo plans for agent actions (DESIGN §8): contracts, plans, probes, approvals, execution.

Typical flow: `load_contracts` -> `generate_plan` (pure, over recorded events) -> `dry_run`
-> `approve` (Ed25519 over the plan digest, separation of duties) -> `apply_plan` (registered
compensators, idempotency keys, bounded retries, undo.* events) -> `coverage`.
"""

from replay.undo.contracts import Contract, ContractError, ContractRegistry, load_contracts
from replay.undo.model import UndoPlan, UndoStep, read_plan, write_plan
from replay.undo.plan import generate_plan

__all__ = [
    "Contract",
    "ContractError",
    "ContractRegistry",
    "UndoPlan",
    "UndoStep",
    "generate_plan",
    "load_contracts",
    "read_plan",
    "write_plan",
]
