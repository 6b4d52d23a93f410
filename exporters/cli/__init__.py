"""The exporters layer's commands: `ledger export` and `ledger verify-bundle`.

Registered in pyproject.toml under `agent_ledger.commands`; each module keeps its heavy imports
(pyarrow, psycopg) inside the command functions so `ledger --help` stays light.
"""
