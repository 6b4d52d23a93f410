"""Test fixtures: a real PostgreSQL per test, cloned from a migrated template.

Each xdist worker starts its own embedded PostgreSQL (or uses `LEDGER_TEST_DSN`, an admin DSN
of an external server). The schema is migrated once into a template database; every test gets
`CREATE DATABASE ... TEMPLATE`, which is fast and fully isolated. No mocks of the database.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psycopg
import pytest
from joserfc.jwk import Key, KeySet, OKPKey, RSAKey
from psycopg import conninfo

from ledger.authority.registry import Provider
from ledger.config import Settings
from ledger.db.embedded import DEFAULT_IDLE_SECONDS, embedded_dsn, stop_embedded
from ledger.db.migrate import apply_migrations
from tests.authority.jose_kit import AUD, ISS
from tests.hsmkit import SoftHsm, init_token
from tests.ledgerkit import assert_bulk_pass_agrees

pytest_plugins = ["tests.registrykit"]  # the `authority` fixture: a signed, published registry

REPO = Path(__file__).resolve().parents[1]
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    """Admin DSN of the PostgreSQL server these tests use.

    The embedded server's data lives outside pytest's numbered temp dirs, which pytest prunes
    when other sessions start. The server outlives the processes that start it, so it is
    stopped and its data removed at session end (a killed session's server is stopped by its
    idle watchdog).
    """
    external = os.environ.get("LEDGER_TEST_DSN")
    if external:
        yield external
        return
    data = Path(tempfile.mkdtemp(prefix="ledger-test-pg-"))
    try:
        yield embedded_dsn(data / "data", idle=DEFAULT_IDLE_SECONDS)
    finally:
        stop_embedded(data / "data")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_dsn: str) -> str:
    """Name of a database migrated to the latest schema, used as a template."""
    name = f"ledger_template_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(
        conninfo.make_conninfo(pg_admin_dsn, dbname=name), autocommit=True
    ) as conn:
        apply_migrations(conn)
    return name


@pytest.fixture
def fresh_dsn(pg_admin_dsn: str, template_db: str) -> Iterator[str]:
    """DSN of a new database cloned from the template; dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield conninfo.make_conninfo(pg_admin_dsn, dbname=name)
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def ledger_settings(fresh_dsn: str, tmp_path: Path) -> Settings:
    """Settings for a fresh ledger: its own database and its own home (keys, spool)."""
    return Settings(home=tmp_path / "home", dsn=fresh_dsn)


@pytest.fixture
def ledger_conn(ledger_settings: Settings) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the fresh ledger database."""
    from ledger.db.connect import connect

    conn = connect(ledger_settings)
    yield conn
    conn.close()


@dataclass
class CliResult:
    """Outcome of one real `ledger` process."""

    exit_code: int
    stdout: str
    stderr: str


def free_port() -> int:
    """A free TCP port on loopback for a server a test starts (Prometheus, a test agent...)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> CliResult:
    """`ledger ARGS...` through `ledger.cli.main` in this process (the same parsing, exit codes
    and one-line errors as the subprocess `cli`, without an interpreter start per call)."""
    from ledger.cli import main as entry

    monkeypatch.setattr(sys, "argv", ["ledger", *args])
    capsys.readouterr()
    code = 0
    try:
        entry()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return CliResult(code, out.out, out.err)


@pytest.fixture
def cli(ledger_settings: Settings) -> object:
    """Run the real `ledger` command against the test's ledger: cli("verify", "--json")."""

    def run(*args: str, input: bytes | None = None, env: dict[str, str] | None = None) -> CliResult:
        full_env = {
            **os.environ,
            "LEDGER_DSN": ledger_settings.dsn or "",
            "LEDGER_HOME": str(ledger_settings.home),
            **(env or {}),
        }
        proc = subprocess.run(
            [LEDGER_BIN, *args],
            input=input,
            capture_output=True,
            env=full_env,
            timeout=120,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout.decode(), proc.stderr.decode())

    return run


@pytest.fixture
def bulk_pass_agrees(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each attack on the `ledger` fixture, the fast bulk pass of verify must flag it
    exactly when the row pass does (the verdicts asserted come from the row pass, which the bulk
    one hands over to). Tamper modules use it with `pytestmark = pytest.mark.usefixtures(...)`."""
    if "ledger" not in request.fixturenames:
        yield
        return
    conn, settings = request.getfixturevalue("ledger"), request.getfixturevalue("ledger_settings")
    yield
    assert_bulk_pass_agrees(conn, settings)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One real SoftHSM2 token per test process (tests/hsmkit.py); SOFTHSM2_CONF points at it
    for this process and the `ledger` subprocesses it starts. Mark tests `needs_softhsm`."""
    token = init_token(tmp_path_factory.mktemp("softhsm"))
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(token.conf)
    yield token
    if saved is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = saved


# --- JOSE: real keys served as a JWKS over loopback HTTP (authority and bundle tests) ---


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
