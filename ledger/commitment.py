"""The salted commitment formula, alone, so pure verifiers can recompute it.

Why a module of its own: `ledger.privacy` also stores and opens payloads (database code), yet the
offline bundle verifier must recompute a disclosed commitment with no database code at all
(a subprocess test asserts psycopg is never imported there).

    hex = SHA-256("agentledger/commit/v1" || salt || JSON pointer path || 0x00
                  || RFC 8785 canonical bytes of the value)
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.canonical import canonical_bytes

__all__ = ["COMMIT_DOMAIN", "commitment_of"]

COMMIT_DOMAIN = b"agentledger/commit/v1"


def commitment_of(salt: bytes, path: str, value: Any) -> str:
    """`sha256:<hex>` commitment to one field value at a JSON pointer path."""
    digest = hashlib.sha256(
        COMMIT_DOMAIN + salt + path.encode("utf-8") + b"\x00" + canonical_bytes(value)
    ).hexdigest()
    return f"sha256:{digest}"
