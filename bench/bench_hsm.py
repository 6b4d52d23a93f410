"""Checkpoint signing and witness cosigning with keys in a PKCS#11 token (SoftHSM2) vs file keys.

Signs the same C2SP checkpoint bodies with a file `Signer` (PyNaCl, in process) and with a
`Pkcs11Signer` whose Ed25519 key pair was generated inside a fresh SoftHSM2 token (CKM_EDDSA),
in signatures/s, in the same run; the ratio token/file is what to compare across machines. Every
token-signed note is checked once with the file-based `Verifier`. The sequencer signs one
checkpoint per batch per origin, so this rate bounds batches/s, not events/s. Needs softhsm2;
without it the script says so and reports no figures.

Witness cosigning is measured end to end (`Witness.cosign`: verify the log signature, lock,
check, sign, fsync the state) with the witness key in a file and in the token, over the same
checkpoint; it runs a tenth as many cosignatures, since the fsync dominates.

Usage: python bench/bench_hsm.py [--signatures 5000] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import Report, parse_args
from ledger.hsm import DEFAULT_MODULE
from ledger.keys import load_key
from ledger.note import Checkpoint, Signer, open_note
from ledger.witness import Witness

QUICK = {"signatures": 500}
NAME = "bench.example/log"
PIN = "1234"


def make_token(folder: Path) -> str:
    """A SoftHSM2 token in `folder` with Ed25519 pairs "log" and "witness" generated in it;
    returns the URI of "log" (replace the object label for the witness key)."""
    import pkcs11
    from pkcs11 import Attribute, KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    (folder / "tokens").mkdir()
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {folder / 'tokens'}\nobjectstore.backend = file\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # before the module is loaded in this process
    init = ["--init-token", "--free", "--label", "bench", "--pin", PIN, "--so-pin", "4321"]
    subprocess.run(["softhsm2-util", *init], check=True, capture_output=True)
    token = pkcs11.lib(DEFAULT_MODULE).get_token(token_label="bench")
    with token.open(user_pin=PIN, rw=True) as session:
        ed25519 = encode_named_curve_parameters("1.3.101.112")
        params = session.create_domain_parameters(
            KeyType.EC_EDWARDS, {Attribute.EC_PARAMS: ed25519}, local=True
        )
        for label in ("log", "witness"):
            params.generate_keypair(store=True, label=label)
    return f"pkcs11:token=bench;object=log?pin-value={PIN}"


def rate(signer: Signer, bodies: list[bytes]) -> tuple[float, list[bytes]]:
    """Signatures per second over `bodies` (complete notes, as the sequencer makes them)."""
    t0 = time.perf_counter()
    notes = [signer.sign_note(body) for body in bodies]
    return len(bodies) / (time.perf_counter() - t0), notes


def cosign_rate(witness: Witness, log: Signer, count: int) -> float:
    """Cosignatures per second of one checkpoint, re-presented `count` times (same size/root)."""
    witness.add_log(log.name, [log.vkey])
    note = log.sign_note(Checkpoint(log.name, 1, b"\x01" * 32).body())
    witness.cosign(note, [])
    t0 = time.perf_counter()
    for _ in range(count):
        witness.cosign(note, [])
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signatures", type=int, default=5000)
    args = parse_args(parser, QUICK)
    figures = Report("hsm")
    if shutil.which("softhsm2-util") is None or not Path(DEFAULT_MODULE).is_file():
        print("softhsm2 is not installed (apt-get install softhsm2): no figures")
        figures.emit(args)
        return
    bodies = [
        Checkpoint(NAME, size, size.to_bytes(32, "big")).body()
        for size in range(1, args.signatures + 1)
    ]
    with tempfile.TemporaryDirectory(prefix="bench-hsm-") as tmp:
        uri = make_token(Path(tmp))
        token_signer = load_key(uri, NAME)
        file_signer = Signer.generate(NAME)
        file_rate, _ = rate(file_signer, bodies)
        token_rate, notes = rate(token_signer, bodies)
        for note in notes:
            open_note(note, [token_signer.verifier])
        cosigns = max(50, args.signatures // 10)
        witness_uri = uri.replace("object=log", "object=witness")
        file_cosign = cosign_rate(Witness(Path(tmp) / "wf"), file_signer, cosigns)
        token_cosign = cosign_rate(Witness(Path(tmp) / "wt", key=witness_uri), file_signer, cosigns)
    print(f"file key:       {file_rate:10,.0f} signatures/s")
    print(f"SoftHSM2 token: {token_rate:10,.0f} signatures/s")
    print(f"ratio token/file: {token_rate / file_rate:.2f}")
    figures.add("file_key_signatures_per_s", file_rate, "signatures/s")
    figures.add("token_signatures_per_s", token_rate, "signatures/s", baseline=file_rate)
    print(f"witness, file key:       {file_cosign:10,.0f} cosignatures/s")
    print(f"witness, SoftHSM2 token: {token_cosign:10,.0f} cosignatures/s")
    print(f"ratio token/file: {token_cosign / file_cosign:.2f}")
    figures.add("witness_file_key_cosignatures_per_s", file_cosign, "cosignatures/s")
    figures.add(
        "witness_token_cosignatures_per_s", token_cosign, "cosignatures/s", baseline=file_cosign
    )
    figures.emit(args)


if __name__ == "__main__":
    main()
