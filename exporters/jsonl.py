"""Canonical JSON Lines export: the exact RFC 8785 bytes of each in-scope event, one per line.

Why: the simplest interchange any tool can read, and because the lines are the hashed bytes, a
consumer can recompute every leaf (SHA-256(0x00 || line)) without our code.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["write"]


def write(rows: Iterable[dict[str, Any]], out: Path) -> int:
    """Write each row's canonical body as one line; return the line count."""
    n = 0
    with out.open("wb") as fh:
        for row in rows:
            fh.write(row["body"].encode("utf-8") + b"\n")
            n += 1
    return n
