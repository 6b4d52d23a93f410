"""Integrations: framework callbacks and processors that write to the ledger via ledger.hooks.

Each framework is an optional extra (`pip install 'agent-ledger[langgraph]'`); the base install
needs none of them. An integration module imports its framework at the top inside
`try/except ImportError` and raises `missing_extra(...)`, so using it without the extra fails
with one line that names what to install instead of a traceback into the framework.
"""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = ["MissingExtra", "missing_extra"]


class MissingExtra(ImportError, LedgerError):
    """An integration was imported without the extra that installs its framework."""


def missing_extra(module: str, extra: str, error: ImportError) -> MissingExtra:
    """The one-line error for `module` imported without `agent-ledger[extra]` installed."""
    missing = (error.name or "its framework").split(".")[0]  # the package, not a submodule
    return MissingExtra(f"{module} needs {missing}: pip install 'agent-ledger[{extra}]'",
                        name=error.name)
