"""Who imports whom across the four layers, read from the source with `ast` (nothing is imported).

Why a parser and not import-linter: the rule must also see imports inside functions, the
string arguments of `importlib.import_module(...)` / `__import__(...)`, and the targets of the
entry points in pyproject.toml, which are how a higher layer plugs into a lower one. Layers, low
to high: ledger < replay < exporters < tui. A module may import its own layer or lower ones;
pyproject.toml's entry points are the composition root above all four.

Run it on any checkout to compare (prints upward imports and package cycles); with --check it
exits 1 when there is any (what `make lint`, and so `make test`, runs):

    python tests/layering.py [--check] [ROOT]
"""

from __future__ import annotations

import ast
import itertools
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LAYERS",
    "EntryPoint",
    "Import",
    "entry_points",
    "module_imports",
    "package_cycles",
    "upward_imports",
]

LAYERS = ("ledger", "replay", "exporters", "tui")
_DYNAMIC = {"import_module", "__import__"}


@dataclass(frozen=True)
class Import:
    """One import found in one module (line is where, for the failure message)."""

    module: str
    target: str
    path: Path
    line: int

    @property
    def upward(self) -> bool:
        """True when the importer's layer is below the imported one's."""
        low, high = layer(self.module), layer(self.target)
        return low is not None and high is not None and low < high

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


@dataclass(frozen=True)
class EntryPoint:
    """One `[project.entry-points.<group>]` (or `[project.scripts]`) line of pyproject.toml."""

    group: str
    name: str
    module: str
    attr: str


def layer(module: str) -> int | None:
    """0 for ledger ... 3 for tui; None for anything outside the four packages."""
    top = module.split(".", 1)[0]
    return LAYERS.index(top) if top in LAYERS else None


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(module: str, is_package: bool, node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [_resolve(module, is_package, node)]
    if isinstance(node, ast.Call) and node.args:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        first = node.args[0]
        if name in _DYNAMIC and isinstance(first, ast.Constant) and isinstance(first.value, str):
            return [first.value]
    return []


def module_imports(root: Path) -> list[Import]:
    """Every import of every module of the four packages, wherever it sits in the module."""
    found: list[Import] = []
    for top in LAYERS:
        for path in sorted((root / top).rglob("*.py")):
            module = _module_name(root, path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            is_package = path.name == "__init__.py"
            for node in ast.walk(tree):
                for target in _targets(module, is_package, node):
                    rel = path.relative_to(root)
                    found.append(Import(module, target, rel, getattr(node, "lineno", 0)))
    return found


def entry_points(root: Path) -> list[EntryPoint]:
    """The entry points pyproject.toml declares (scripts included, as group `console_scripts`)."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    groups: dict[str, dict[str, str]] = dict(project.get("entry-points", {}))
    groups["console_scripts"] = project.get("scripts", {})
    points = []
    for group, table in groups.items():
        for name, value in table.items():
            module, _, attr = value.partition(":")
            points.append(EntryPoint(group, name, module.strip(), attr.strip()))
    return points


def upward_imports(root: Path) -> list[Import]:
    """Imports from a lower layer into a higher one (the ones the layer test forbids)."""
    return [found for found in module_imports(root) if found.upward]


def package_cycles(root: Path) -> list[tuple[str, ...]]:
    """Elementary cycles between the four top-level packages (e.g. ledger -> tui -> ledger)."""
    edges = {
        (layer(i.module), layer(i.target))
        for i in module_imports(root)
        if layer(i.target) is not None and layer(i.module) != layer(i.target)
    }
    cycles = []
    for size in range(2, len(LAYERS) + 1):
        for combo in itertools.combinations(range(len(LAYERS)), size):
            first, rest = combo[0], combo[1:]
            for order in itertools.permutations(rest):
                ring = (first, *order)
                pairs = zip(ring, (*ring[1:], ring[0]), strict=True)
                if all(pair in edges for pair in pairs):
                    cycles.append(tuple(LAYERS[i] for i in ring))
    return cycles


def main(argv: list[str]) -> int:
    """Print the upward imports and the package cycles of a checkout; 1 if any with --check."""
    check = "--check" in argv
    paths = [a for a in argv if a != "--check"]
    root = Path(paths[0] if paths else ".").resolve()
    upward = upward_imports(root)
    for found in upward:
        print(found)
    cycles = package_cycles(root)
    for cycle in cycles:
        print("cycle: " + " -> ".join((*cycle, cycle[0])))
    pairs = sum(1 for cycle in cycles if len(cycle) == 2)
    print(
        f"upward imports: {len(upward)}; package cycles: {pairs} mutual pairs "
        f"({len(cycles)} elementary cycles)"
    )
    return 1 if check and (upward or cycles) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
