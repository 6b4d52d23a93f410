"""Fixtures for the authority tests: an administrator key, signed registries, and the hooks'
real writer against a fresh ledger database."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import Key, KeySet, OKPKey, RSAKey

from ledger.authority.registry import Provider, Registry
from ledger.authority.signed import SignedRegistry, sign_registry
from ledger.authority.trust import TrustRoot
from ledger.config import Settings
from ledger.hooks import configure, shutdown
from ledger.hooks.writer import Writer
from ledger.keys import load_or_create_signer
from ledger.note import Signer
from tests.authority.jose_kit import AUD, ISS
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


@pytest.fixture(scope="module")
def keys() -> dict[str, Key]:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1", "use": "sig"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1", "use": "sig"})
    return {"RS256": rsa, "EdDSA": ed}


@pytest.fixture(scope="module")
def jwks_url(keys: dict[str, Key]) -> Iterator[str]:
    body = json.dumps(KeySet(list(keys.values())).as_dict(private=False)).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/jwk-set+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def provider(jwks_url: str) -> Provider:
    with urllib.request.urlopen(jwks_url, timeout=5) as response:
        jwks = json.load(response)
    assert {k["kid"] for k in jwks["keys"]} == {"rsa-1", "ed-1"}
    assert all("d" not in k for k in jwks["keys"])  # only public halves are served
    return Provider(issuer=ISS, audience=AUD, jwks=jwks, algorithms=("RS256", "EdDSA"))
