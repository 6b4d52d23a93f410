"""Every exception class of the four packages is a LedgerError, so it carries its exit code.

The CLI has no per-command translations: `main()` prints `error: <message>` for a LedgerError
and its exit code, and treats anything else as a bug. That only holds if no layer defines an
exception outside the hierarchy; this test finds them all from the source.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from ledger.errors import ExitCode, LedgerError
from tests.layering import LAYERS

ROOT = Path(__file__).resolve().parents[1]
# Class names an exception base ends with here (builtins and the LedgerError family).
_BASES = ("Error", "Exception", "Refused", "Invalid", "Failed", "Unavailable", "Suspect")


def _exception_classes() -> list[tuple[str, str]]:
    found = []
    for top in LAYERS:
        for path in sorted((ROOT / top).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
                ".__init__"
            )
            for node in tree.body:
                if isinstance(node, ast.ClassDef) and any(
                    ast.unparse(base).endswith(_BASES) for base in node.bases
                ):
                    found.append((module, node.name))
    return found


CLASSES = _exception_classes()


def test_the_scan_finds_the_known_ones() -> None:
    names = {name for _, name in CLASSES}
    assert {"PlanFileError", "ContractError", "PolicyError", "WitnessRefused", "DsseError"} <= names


@pytest.mark.parametrize(("module", "name"), CLASSES, ids=str)
def test_every_domain_exception_is_a_ledger_error(module: str, name: str) -> None:
    cls = getattr(importlib.import_module(module), name)
    if issubclass(cls, BaseException):
        assert issubclass(cls, LedgerError), f"{module}.{name} must derive from LedgerError"
        assert isinstance(cls.exit_code, ExitCode)
