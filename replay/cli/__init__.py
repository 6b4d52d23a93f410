"""The replay layer's commands: `ledger replay`, `check`, `policy ...` and `undo ...`.

Registered in pyproject.toml under `agent_ledger.commands`; each module keeps its heavy imports
inside the command functions so `ledger --help` stays light.
"""
