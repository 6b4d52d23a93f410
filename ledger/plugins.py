"""Entry-point groups: how a higher layer plugs into a lower one without the lower importing it.

The layers only import downward (ledger < replay < exporters < tui). Where the ledger must call
code of a higher layer (the root command loading `ledger undo`, the hooks asking a policy guard
before a tool call, `ledger serve` starting a metrics exporter), the ledger names an entry-point
group and the higher layer registers its object there in its pyproject.toml. The composition
root is therefore the installed distributions' metadata, not a table of module names in code.

Groups (declared in this project's pyproject.toml):
  agent_ledger.commands  name = "pkg.module:app"   a `typer.Typer` (ledger/cli/loader.py)
  agent_ledger.guards    name = "pkg.module:Obj"   a `Guard`, or its class (hooks/guard.py)
  agent_ledger.serve     name = "pkg.module:Obj"   a `ServePlugin`, or its class (serve.py)
  agent_ledger.rule_failures  name = "pkg.module:fn"  the failing runs (`ledger runs --failing`)
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from ledger.errors import LedgerError

__all__ = [
    "COMMANDS",
    "GUARDS",
    "RULE_FAILURES",
    "SERVE",
    "PluginError",
    "Registered",
    "load_instances",
    "registered",
]

COMMANDS = "agent_ledger.commands"
GUARDS = "agent_ledger.guards"
SERVE = "agent_ledger.serve"
RULE_FAILURES = "agent_ledger.rule_failures"


class PluginError(LedgerError):
    """An entry point that cannot be loaded or is not the kind of object its group expects."""


@dataclass(frozen=True)
class Registered:
    """One entry point of a group, not loaded yet (loading imports the higher layer's module)."""

    name: str
    value: str
    entry: EntryPoint

    def load(self) -> object:
        """Import the target; a broken plug-in is a one-line PluginError, not a traceback."""
        try:
            return self.entry.load()
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load {self.name} = {self.value!r}: {exc}") from None


def registered(group: str) -> dict[str, Registered]:
    """The group's entry points by name (first distribution on sys.path wins a name clash)."""
    found: dict[str, Registered] = {}
    for entry in entry_points(group=group):
        found.setdefault(entry.name, Registered(entry.name, entry.value, entry))
    return dict(sorted(found.items()))


def load_instances(group: str) -> list[tuple[str, object]]:
    """Load every entry point of a plug-in group; a class is instantiated with no arguments.

    Plug-ins are objects with methods (Guard.check, ServePlugin.start/stop); registering the
    class is the natural thing to write in pyproject.toml, so a class is called once to make one.
    """
    loaded: list[tuple[str, object]] = []
    for name, point in registered(group).items():
        target = point.load()
        loaded.append((name, target() if isinstance(target, type) else target))
    return loaded
