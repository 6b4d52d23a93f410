"""SQL lives in `sql/`: migrations in order, named DML in `queries.sql` and `queries/*.sql`.

Each named query starts with a `-- name --` header line. `queries.sql` holds the log's own
statements; `sql/queries/<topic>.sql` holds one topic each (verdicts, undo, board...), so that
a reader finds a statement by what it is about. A name may be defined only once across all files.

In a source checkout the repository's `sql/` directory is read; in an installed wheel the same
files ship as `ledger/_sql` and are read with importlib.resources. No f-string SQL anywhere.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import LiteralString

__all__ = ["migration_files", "query", "sql_dir"]

_HEADER = re.compile(r"^-- ([a-z0-9_]+) --$", re.MULTILINE)


@functools.cache
def sql_dir() -> Traversable:
    """The directory holding bootstrap.sql, queries.sql and migrations/."""
    source = Path(__file__).resolve().parents[2] / "sql"
    if (source / "queries.sql").is_file():
        return source
    return importlib.resources.files("ledger") / "_sql"


def _query_files() -> list[Traversable]:
    files = [sql_dir() / "queries.sql"]
    topics = sql_dir() / "queries"
    if topics.is_dir():
        files += sorted(
            (f for f in topics.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name
        )
    return files


@functools.cache
def _queries() -> dict[str, str]:
    found: dict[str, str] = {}
    for file in _query_files():
        parts = _HEADER.split(file.read_text(encoding="utf-8"))
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            if name in found:
                raise ValueError(f"query {name!r} is defined twice (second time in {file.name})")
            found[name] = body.strip()
    return found


def query(name: str) -> LiteralString:
    """The named query from sql/ (KeyError if it does not exist)."""
    return _queries()[name]


def read_sql(name: str) -> LiteralString:
    """A whole SQL file from sql/ (e.g. bootstrap.sql)."""
    return (sql_dir() / name).read_text(encoding="utf-8")


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql text) for every file in sql/migrations, in version order."""
    found: list[tuple[int, str, str]] = []
    for entry in (sql_dir() / "migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_([a-z0-9_]+)\.sql", entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)
