"""A real SoftHSM2 token for tests: one per test process, key pairs generated inside it.

Why one per process: SoftHSM2 reads SOFTHSM2_CONF once, when the module is first initialised in
a process, so every test of a worker must share the token (tests/conftest.py `softhsm`, session
scope). Key pairs are generated in the token on first request (never imported from a file) and
named by their label: "log", "witness", an approver name... Subprocesses (the real `ledger`
CLI) inherit SOFTHSM2_CONF from os.environ and see the same token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ledger.hsm import DEFAULT_MODULE

__all__ = ["PIN", "SO_PIN", "TOKEN", "SoftHsm", "init_token", "needs_softhsm"]

PIN = "2468"
SO_PIN = "13579"
TOKEN = "ledger-test"

needs_softhsm = pytest.mark.skipif(
    shutil.which("softhsm2-util") is None or not Path(DEFAULT_MODULE).is_file(),
    reason="softhsm2 is not installed (apt-get install softhsm2); .ci/run installs it",
)


@dataclass
class SoftHsm:
    """The test token: its config file and the public keys of the pairs generated so far."""

    conf: Path
    _public: dict[str, bytes] = field(default_factory=dict)

    def public_key(self, label: str) -> bytes:
        """The raw Ed25519 public key of key pair `label`, generating the pair on first use."""
        if label not in self._public:
            self._public[label] = _generate_key_pair(label)
        return self._public[label]

    def uri(self, label: str) -> str:
        """The RFC 7512 URI of key pair `label` (no PIN in it), generating the pair if needed."""
        self.public_key(label)
        return f"pkcs11:token={TOKEN};object={label};type=private"


def _generate_key_pair(label: str) -> bytes:
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    token = pkcs11.lib(DEFAULT_MODULE).get_token(token_label=TOKEN)
    try:
        session = token.open(user_pin=PIN, rw=True)
    except pkcs11.exceptions.UserAlreadyLoggedIn:  # a signer of this process logged in already
        session = token.open(rw=True)
    with session:
        ed25519 = encode_named_curve_parameters("1.3.101.112")
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ed25519}, local=True
        )
        public, _ = params.generate_keypair(store=True, label=label)
        point = bytes(public[Attribute.EC_POINT])
    assert point[:2] == b"\x04\x20"
    return point[2:]


def init_token(folder: Path) -> SoftHsm:
    """Write a SoftHSM2 config under `folder` and initialise the token (caller sets the env)."""
    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    init = ["--init-token", "--free", "--label", TOKEN, "--pin", PIN, "--so-pin", SO_PIN]
    env = {**os.environ, "SOFTHSM2_CONF": str(conf)}
    subprocess.run(["softhsm2-util", *init], check=True, capture_output=True, env=env)
    return SoftHsm(conf)
