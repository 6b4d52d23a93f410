"""Where the ledger lives: home directory, database, origin and key paths.

With no configuration everything sits in the user data directory (platformdirs) and the database
is an embedded PostgreSQL started on demand. `LEDGER_DSN` (or `--dsn`) selects an external
PostgreSQL instead; `LEDGER_HOME` moves the home directory (tests use a temporary one).
`LEDGER_READ_DSN` (or `--read-dsn`) names a read replica (a PostgreSQL hot standby of that
database): `verify`, `export` and the TUI read there, and every write still goes to the primary
(docs/scaling.md).

Timeouts bound how long a side-effecting call can wait on a database that is down or hung
(accepts TCP, never answers): `LEDGER_ACK_TIMEOUT` (the wait for an intent's acknowledgement),
`LEDGER_CONNECT_TIMEOUT` (a new connection, handshake included) and `LEDGER_STATEMENT_TIMEOUT`
(one statement of the hooks; enforced by the server and, for a server that never answers, by a
client-side watchdog that cuts the connection). Seconds, e.g. `5` or `2.5`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from ledger.errors import InputError

__all__ = ["DEFAULT_TENANT", "Settings", "Timeouts"]

DEFAULT_TENANT = "default"


def _seconds(name: str, default: float) -> float:
    """A positive number of seconds from the environment; a bad value is a one-line error."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw.removesuffix("s"))
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        raise InputError(f"{name} must be a number of seconds between 0 and 3600, "
                         f"not {raw[:40]!r}")
    return value


@dataclass(frozen=True)
class Timeouts:
    """How long the hooks wait on the database before failing closed (see module docstring).

    The defaults keep a side-effecting call's worst case near 5 s: a new connection gives up
    after 3 s, an open one that stops answering is cut after the statement timeout."""

    ack: float = 5.0
    connect: float = 3.0
    statement: float = 5.0

    @classmethod
    def from_env(cls) -> Timeouts:
        """`LEDGER_ACK_TIMEOUT`, `LEDGER_CONNECT_TIMEOUT`, `LEDGER_STATEMENT_TIMEOUT`."""
        return cls(ack=_seconds("LEDGER_ACK_TIMEOUT", cls.ack),
                   connect=_seconds("LEDGER_CONNECT_TIMEOUT", cls.connect),
                   statement=_seconds("LEDGER_STATEMENT_TIMEOUT", cls.statement))

    @property
    def connect_seconds(self) -> int:
        """libpq's connect_timeout is whole seconds (at least 1, rounded up)."""
        return max(1, int(-(-self.connect // 1)))

    @property
    def statement_ms(self) -> int:
        """The server-side statement_timeout, in milliseconds."""
        return max(1, int(self.statement * 1000))


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    home: Path
    dsn: str | None = None
    #: a streaming replica of `dsn` for read-only work (None: read the primary)
    read_dsn: str | None = None
    origin_prefix: str = "agent-ledger.local"
    tenant: str = DEFAULT_TENANT
    batch_size: int = 5000
    timeouts: Timeouts = field(default_factory=Timeouts.from_env)
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, dsn: str | None = None, home: Path | None = None,
                 read_dsn: str | None = None) -> Settings:
        """Build settings from explicit arguments, then environment, then defaults."""
        resolved_home = home or Path(
            os.environ.get("LEDGER_HOME") or platformdirs.user_data_dir("agent-ledger")
        )
        return cls(
            home=resolved_home,
            dsn=dsn or os.environ.get("LEDGER_DSN") or None,
            read_dsn=read_dsn or os.environ.get("LEDGER_READ_DSN") or None,
            origin_prefix=os.environ.get("LEDGER_ORIGIN_PREFIX", "agent-ledger.local"),
            tenant=os.environ.get("LEDGER_TENANT", DEFAULT_TENANT),
        )

    @property
    def embedded(self) -> bool:
        """True when no external DSN is configured."""
        return self.dsn is None

    @property
    def pgdata(self) -> Path:
        """Data directory of the embedded PostgreSQL."""
        return self.home / "pgdata"

    @property
    def keys_dir(self) -> Path:
        """Directory of key files (kept outside the database)."""
        return self.home / "keys"

    @property
    def log_key_path(self) -> Path:
        """The log signing key (Ed25519, file mode 0600)."""
        return self.keys_dir / "log.key"

    @property
    def spool_dir(self) -> Path:
        """Local durable spool for events written while the database is down."""
        return self.home / "spool"

    def origin(self, tenant: str | None = None) -> str:
        """The C2SP log origin for a tenant: one log (tree, checkpoints) per tenant."""
        return f"{self.origin_prefix}/{tenant or self.tenant}"
