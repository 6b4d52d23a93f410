"""The ledger's own exception hierarchy and the CLI exit codes they map to.

Callers never need to import psycopg to handle failures. Every message is one line a person can
act on; none carries key material, SQL text with data, or a traceback.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "DatabaseUnavailable",
    "ExitCode",
    "InputError",
    "KeyUnavailable",
    "LedgerError",
    "VerificationFailed",
]


class ExitCode(IntEnum):
    """Documented exit codes of the `ledger` command."""

    OK = 0
    INVALID = 1
    USAGE = 2
    DATABASE = 3
    KEY = 4
    INTERRUPTED = 130


class LedgerError(Exception):
    """Base class: a one-line message plus the exit code the CLI should use."""

    exit_code: ExitCode = ExitCode.INVALID


class InputError(LedgerError):
    """Bad input from a user or a writer (usage error)."""

    exit_code = ExitCode.USAGE


class DatabaseUnavailable(LedgerError):
    """The database cannot be reached or refused the connection."""

    exit_code = ExitCode.DATABASE


class KeyUnavailable(LedgerError):
    """A key file is missing, unreadable or has unsafe permissions."""

    exit_code = ExitCode.KEY


class VerificationFailed(LedgerError):
    """Verification found the ledger or a bundle invalid."""

    exit_code = ExitCode.INVALID
