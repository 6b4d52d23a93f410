"""Fixtures for the authority tests: an administrator key, signed registries, and the hooks'
real writer against a fresh ledger database (the JOSE keys, their loopback JWKS and the provider
are in tests/conftest.py, shared with the bundle verifier tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.authority.registry import Registry
from ledger.authority.signed import SignedRegistry, sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer
from ledger.keys import load_or_create_signer
from ledger.note import Signer
from tests.hooks.conftest import FlakyDatabase


@pytest.fixture
def admin(tmp_path: Path) -> Signer:
    """The administrator key, kept outside the ledger home like a real one."""
    return load_or_create_signer(tmp_path / "admin" / "sec-admin.key", "sec-admin")


@pytest.fixture
def root_file(admin: Signer, tmp_path: Path) -> Path:
    return tmp_path / "admin" / "sec-admin.key.pub"


@pytest.fixture
def root(root_file: Path) -> TrustRoot:
    return TrustRoot.read(root_file)


def registry(version: int = 1, **parts: Any) -> Registry:
    """A registry document; `parts` are top-level sections (principals, stop, undo, ...)."""
    meta = {"name": "acme", "version": version, "logs": ["*"]}
    return Registry.model_validate({"registry": meta, **parts})


def signed(signer: Signer, version: int = 1, **parts: Any) -> SignedRegistry:
    return sign_registry(registry(version, **parts), signer)


@pytest.fixture
def flaky(ledger_settings: Settings) -> FlakyDatabase:
    return FlakyDatabase(ledger_settings)


@pytest.fixture
def writer(ledger_settings: Settings, flaky: FlakyDatabase) -> Iterator[Writer]:
    w = configure(ledger_settings, connect=flaky, sequence=True, retry_interval=0.05,
                  sequence_interval=0.0)
    yield w
    shutdown()
