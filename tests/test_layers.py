"""The layers stand the right way up: ledger < replay < exporters < tui, and the CLI stays light.

Imports are read from the source (tests/layering.py): top level and inside functions, plus the
string arguments of importlib.import_module/__import__. A higher layer reaches a lower one's
extension points only through the entry points in pyproject.toml; those targets are checked to
exist. `make test` runs this file, so an upward import fails CI.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.layering import LAYERS, entry_points, layer, module_imports, package_cycles

ROOT = Path(__file__).resolve().parents[1]
# What `ledger --help` / `ledger <group> --help` must never import (top-level module names).
HEAVY = ("psycopg", "textual", "pyarrow", "langgraph", "langchain_core", "langchain", "agents")
COMMANDS = [p for p in entry_points(ROOT) if p.group == "agent_ledger.commands"]
GROUPS = ("", *sorted(p.name for p in COMMANDS))


def test_no_module_imports_a_higher_layer() -> None:
    upward = [str(found) for found in module_imports(ROOT) if found.upward]
    assert upward == [], "\n".join(["imports from a lower layer into a higher one:", *upward])


def test_no_package_cycles() -> None:
    assert package_cycles(ROOT) == []


def test_the_parser_sees_imports_inside_functions_and_importlib_strings(tmp_path: Path) -> None:
    """The checker itself: a hidden upward import is found wherever it hides."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    for top in LAYERS:
        (tmp_path / top).mkdir()
        (tmp_path / top / "__init__.py").write_text("")
    (tmp_path / "ledger" / "sneaky.py").write_text(
        "import importlib\n"
        "def f():\n"
        "    from tui import app\n"
        "    importlib.import_module('replay.state')\n"
        "    __import__('exporters.bundle')\n"
        "from . import sneaky as itself\n"
    )
    found = sorted(i.target for i in module_imports(tmp_path) if i.upward)
    assert found == ["exporters.bundle", "replay.state", "tui"]
    assert "ledger" in {i.target for i in module_imports(tmp_path)}  # relative import resolved


@pytest.mark.parametrize("point", entry_points(ROOT), ids=lambda p: f"{p.group}:{p.name}")
def test_entry_point_targets_exist(point: object) -> None:
    """The composition root names real modules and module-level names (read, not imported)."""
    module, attr = point.module, point.attr  # type: ignore[attr-defined]
    path = ROOT / Path(*module.split("."))
    source = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path / "__init__.py"
    assert source.is_file(), f"{module}: no such module"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    } | {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.ClassDef)}
    assert attr in names, f"{module} defines no {attr}"
    assert layer(module) is not None


def _typer_defaults(path: Path) -> list[str]:
    """Parameters written the old way (`x: T = typer.Option(...)`) instead of Annotated."""
    old = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                func = getattr(default, "func", None)
                if isinstance(func, ast.Attribute) and func.attr in {"Option", "Argument"}:
                    old.append(f"{path.name}:{node.name}")
    return old


def test_every_command_uses_one_registration_and_option_style() -> None:
    """Each command entry point names a module-level `app` Typer; options are Annotated."""
    assert {p.attr for p in COMMANDS} == {"app"}
    modules = {ROOT / Path(*p.module.split(".")).with_suffix(".py") for p in COMMANDS}
    old = [name for path in sorted(modules) for name in _typer_defaults(path)]
    assert old == [], f"use typing.Annotated for options: {old}"


_PROBE = """
import json, sys
sys.argv = ["ledger", *sys.argv[1:], "--help"]
from ledger.cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: g or "root")
def test_help_imports_no_database_ui_arrow_or_framework_code(group: str) -> None:
    """`ledger --help` and `ledger <command> --help` load only the light command modules."""
    args = [group] if group else []
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, check=True
    )
    loaded = json.loads(proc.stderr.strip().splitlines()[-1])
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"ledger {group} --help imported {heavy}"
    higher = sorted(
        m
        for m in loaded
        if layer(m) and not any(part in ("cli", "demo_cmd") for part in m.split("."))
    )
    assert set(higher) <= {"replay", "exporters", "exporters.demo", "tui"}, higher


def test_import_ledger_stays_light() -> None:
    code = (
        "import json, sys, ledger; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert not loaded & {"langgraph", "langchain_core", "textual", "pyarrow", "replay"}


def test_no_command_carries_completion_options() -> None:
    """Sub-apps are made with add_completion=False: no --install-completion on any command."""
    import typer

    from ledger.cli import app

    root = typer.main.get_command(app)
    for name in root.commands:  # type: ignore[attr-defined]
        command = root.commands[name]  # type: ignore[attr-defined]
        assert "install_completion" not in {p.name for p in command.params}, name
