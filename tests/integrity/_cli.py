"""`python -m tests.integrity._cli ARGS` = `ledger ARGS` plus the integrity command modules."""

from __future__ import annotations

import importlib

from ledger.cli import app, main

_registered = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
for _name in ("prove_cmd", "witness_cmd", "redact_cmd"):
    try:
        _module = importlib.import_module(f"ledger.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"ledger.cli.{_name}":
            raise
        continue
    if _name == "witness_cmd" and "witness" not in _registered:
        app.add_typer(_module.app, name="witness")
    if _name == "redact_cmd" and "redact" not in _registered:
        app.command("redact")(_module.redact)

if __name__ == "__main__":
    main()
