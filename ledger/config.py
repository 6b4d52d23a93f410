"""Where the ledger lives: home directory, database, origin and key paths.

With no configuration everything sits in the user data directory (platformdirs) and the database
is an embedded PostgreSQL started on demand. `LEDGER_DSN` (or `--dsn`) selects an external
PostgreSQL instead; `LEDGER_HOME` moves the home directory (tests use a temporary one).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

__all__ = ["DEFAULT_TENANT", "Settings"]

DEFAULT_TENANT = "default"


@dataclass(frozen=True)
class Settings:
    """Resolved configuration for one process."""

    home: Path
    dsn: str | None = None
    origin_prefix: str = "agent-ledger.local"
    tenant: str = DEFAULT_TENANT
    batch_size: int = 5000
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, dsn: str | None = None, home: Path | None = None) -> Settings:
        """Build settings from explicit arguments, then environment, then defaults."""
        resolved_home = home or Path(
            os.environ.get("LEDGER_HOME") or platformdirs.user_data_dir("agent-ledger")
        )
        return cls(
            home=resolved_home,
            dsn=dsn or os.environ.get("LEDGER_DSN") or None,
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
