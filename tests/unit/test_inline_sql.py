"""SQL lives in sql/: package code holds no inline statements beyond a few trivial ones.

Every string literal (f-strings included) that starts with an SQL verb and reads like a
statement counts. `python tests/unit/test_inline_sql.py [PACKAGE...]` prints them per file.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from pathlib import Path

REPO = Path(os.environ.get("INLINE_SQL_ROOT") or Path(__file__).resolve().parents[2])
PACKAGES = ("ledger", "replay", "exporters", "tui")
TRIVIAL = re.compile(
    r"^(SELECT 1 FROM pg_database WHERE datname = %s|SET TRANSACTION .*"
    r"|SET LOCAL .*|CREATE DATABASE .*|DROP DATABASE IF EXISTS .*)$"
)
"""Bootstrap and scratch-database statements, and transaction-local settings (`SET TRANSACTION`,
`SET LOCAL`): they name no table."""
_VERB = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|COPY|CREATE|ALTER|DROP|SET|LOCK|TRUNCATE|GRANT"
    r"|REVOKE|BEGIN|COMMIT|ROLLBACK|LISTEN|NOTIFY|SHOW|VACUUM|ANALYZE|EXPLAIN|RESET)\s+\S"
)
_SHAPE = re.compile(r"\b(FROM|INTO|SET|TABLE|VALUES|TO|WHERE|DATABASE|SCHEMA)\b|^\s*SELECT\b")


def _texts(tree: ast.AST) -> list[tuple[int, str]]:
    inside_fstrings = {
        id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
    }
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if id(node) in inside_fstrings:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.JoinedStr):
            parts = [v.value if isinstance(v, ast.Constant) else "{}" for v in node.values]
            found.append((node.lineno, "".join(str(p) for p in parts)))
    return found


def inline_sql(packages: tuple[str, ...] = PACKAGES) -> dict[str, list[tuple[int, str]]]:
    """Statements written inline in package code, by file (docstrings never match: prose)."""
    found: dict[str, list[tuple[int, str]]] = {}
    for package in packages:
        for path in sorted((REPO / package).rglob("*.py")):
            for line, text in _texts(ast.parse(path.read_text(encoding="utf-8"))):
                if _VERB.match(text) and _SHAPE.search(text):
                    statement = " ".join(text.split())
                    found.setdefault(str(path.relative_to(REPO)), []).append((line, statement))
    return found


def test_package_code_has_only_trivial_inline_sql() -> None:
    offending = {
        f"{path}:{line}": statement
        for path, hits in inline_sql().items()
        for line, statement in hits
        if not TRIVIAL.match(statement)
    }
    assert not offending, "name these in sql/queries/<topic>.sql and call query():\n" + "\n".join(
        f"{where}: {statement[:100]}" for where, statement in offending.items()
    )


if __name__ == "__main__":
    hits = inline_sql(tuple(sys.argv[1:]) or ("ledger", "replay", "exporters", "tui"))
    for path, statements in hits.items():
        print(f"{len(statements):3d} {path}")
        for line, statement in statements:
            print(f"      {line}: {statement[:100]}")
    print(f"total {sum(map(len, hits.values()))} in {len(hits)} files")
