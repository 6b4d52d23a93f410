"""Integration tests share the hook fixtures (a real writer on a fresh ledger database)."""

from __future__ import annotations

from tests.hooks.conftest import FlakyDatabase, flaky, stored, writer

__all__ = ["FlakyDatabase", "flaky", "stored", "writer"]
