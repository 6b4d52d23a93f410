"""Trust roots of an evidence bundle, attacked from the side of whoever rewrites the bundle.

One ledger (with an in-process witness, as `configured_witness` runs it) and one exported bundle
per module; each attack works on a copy. The attacker of issue 15 deletes a whole run, recomputes
every digest, population and the manifest, re-signs the DSSE envelope with a key of their own and
puts that key in the bundle's keys/trust.json: the bundle is then consistent with itself, so only
keys from outside the bundle can tell. `verify-bundle` must never say OK without them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from psycopg import conninfo
from typer.testing import CliRunner

from exporters.bundle import ExportParams, export_bundle
from exporters.bundle_verify import verify_bundle
from exporters.cli.verify_bundle_cmd import app as verify_bundle_app
from exporters.dsse import dsse_keyid
from exporters.populations import POPULATIONS, csv_bytes, population_rows, project_rows
from ledger.config import Settings
from ledger.db.connect import connect
from ledger.errors import ExitCode
from ledger.keys import fingerprint
from ledger.note import Signer
from ledger.store.sequencer import log_signer
from ledger.witness import CosignatureVerifier, Witness
from tests.exporters.conftest import SINCE, UNTIL, day, rich_run
from tests.exporters.test_tamper import reseal
from tests.ledgerkit import append

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
FENCE = re.compile(r"^```(sh|sql|python)\n(.*?)^```$", re.S | re.M)
PINNED = "<public key hex of the log key you pinned in step 1>"


@dataclasses.dataclass
class World:
    """The exported bundle and the keys an auditor would obtain out of band."""

    bundle: Path
    log_pub: Path
    witness_vkey: Path
    settings: Settings
    tmp: Path

    def copy(self, name: str) -> Path:
        out = self.tmp / name
        shutil.copytree(self.bundle, out)
        return out


@pytest.fixture(scope="module")
def world(
    pg_admin_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A ledger whose checkpoints a witness cosigns, four runs in the period, one bundle."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    tmp = tmp_path_factory.mktemp("trust")
    settings = Settings(
        home=tmp / "home",
        dsn=conninfo.make_conninfo(pg_admin_dsn, dbname=name),
        extra={"witness_dir": str(tmp / "witness")},
    )
    try:
        with connect(settings) as conn:
            for i in range(4):
                append(conn, settings, rich_run(day(2 + i)))
            out = tmp / "bundle"
            export_bundle(
                conn, settings, ExportParams(since=SINCE, until=UNTIL, out=out, record=False)
            )
        yield World(
            out,
            settings.log_key_path.with_name("log.key.pub"),
            tmp / "witness" / "witness.vkey",
            settings,
            tmp,
        )
    finally:
        with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify_cli(*args: str, real: bool = False) -> tuple[int, str]:
    """`ledger verify-bundle ARGS` in process (its typer app), or as the real binary: (exit, out).

    The real process costs seconds of imports on a loaded machine; one attack uses it to prove
    the exit code the shell sees, the others run the same command in process.
    """
    if real:
        proc = subprocess.run([LEDGER_BIN, "verify-bundle", *args], capture_output=True,
                              text=True, check=False, timeout=120)
        return proc.returncode, proc.stdout
    res = CliRunner().invoke(verify_bundle_app, list(args))
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return res.exit_code, res.stdout


def _rewrite_populations(out: Path, rows: list[dict[str, Any]]) -> None:
    """Re-derive every population CSV and its metadata from the remaining rows."""
    cols = {name: [r[name] for r in rows] for name in rows[0]}
    manifest = json.loads((out / "manifest.json").read_text())
    line = csv_bytes()
    found = population_rows(POPULATIONS, cols)
    for pop, idx in zip(POPULATIONS, found, strict=True):
        if not (out / pop.path).exists():
            continue
        data = line(pop.columns) + line.many(project_rows(pop, cols, idx)) if idx else line(
            pop.columns
        )
        (out / pop.path).write_bytes(data)
        meta = json.loads((out / pop.meta_path).read_text())
        meta["row_count"], meta["csv_sha256"] = len(idx), hashlib.sha256(data).hexdigest()
        (out / pop.meta_path).write_text(json.dumps(meta, indent=2) + "\n")
        manifest["row_counts"]["populations"][f"{pop.control}/{pop.id}"] = len(idx)
        for entry in manifest["files"]:
            if entry["path"] == pop.path:
                entry["rows"] = len(idx)
    manifest["row_counts"]["events"] = len(rows)
    for entry in manifest["files"]:
        if entry["path"] in {"ledger/events.parquet", "ledger/events.jsonl"}:
            entry["rows"] = len(rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def delete_run_and_resign(out: Path, attacker: Signer) -> str:
    """The attack: a whole run gone, everything recomputed, signed by the attacker's key."""
    table = pq.read_table(out / "ledger/events.parquet")
    rows = table.to_pylist()
    victim = rows[0]["run_id"]
    rows = [r for r in rows if r["run_id"] != victim]
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / "ledger/events.parquet")
    (out / "ledger/events.jsonl").write_text("".join(r["body"] + "\n" for r in rows))
    _rewrite_populations(out, rows)
    trust = json.loads((out / "keys/trust.json").read_text())
    trust["dsse_signers"] = [
        {"keyid": dsse_keyid(attacker.public_key), "key": "log key (settings.log_key_path)",
         "public_key_hex": attacker.public_key.hex()}
    ]
    (out / "keys/trust.json").write_text(json.dumps(trust, indent=2) + "\n")
    reseal(out, attacker)
    return str(victim)


def test_genuine_bundle_ok_only_with_keys_from_outside(world: World) -> None:
    code, out = verify_cli(str(world.bundle), "--trust", str(world.log_pub),
                           "--witness-key", str(world.witness_vkey))
    assert code == ExitCode.OK, out
    assert out.startswith("OK: bundle valid:")
    assert "witness: cosigned by agent-ledger-witness at " in out
    code, out = verify_cli(str(world.bundle))
    assert code == ExitCode.UNTRUSTED, out
    assert out.startswith("UNTRUSTED: consistent only under keys the bundle supplies")
    assert "OK" not in out.split("\n", 1)[0]
    signer = log_signer(world.settings)
    assert f"log key {signer.name}: {fingerprint(signer)}" in out
    assert f"keyid {dsse_keyid(signer.public_key)} (signed this bundle's DSSE envelope)" in out


def test_run_deleted_and_resigned_by_an_attacker_is_never_ok(world: World) -> None:
    out = world.copy("attacked")
    attacker = Signer.generate("attacker")
    victim = delete_run_and_resign(out, attacker)
    report = verify_bundle(out, None)  # consistent with itself: only trust can tell
    assert (report.valid, report.verdict) == (True, "UNTRUSTED"), report.problems
    runs = pq.read_table(world.bundle / "ledger/events.parquet").column("run_id").to_pylist()
    assert report.events == len(runs) - runs.count(victim) == 27  # a whole run of 9 is gone
    code, stdout = verify_cli(str(out), real=True)
    assert code == ExitCode.UNTRUSTED == 5, stdout
    assert "OK: bundle valid" not in stdout and stdout.startswith("UNTRUSTED:")
    attacker_id = dsse_keyid(attacker.public_key)
    assert f"keyid {attacker_id} (signed this bundle's DSSE envelope)" in stdout
    code, stdout = verify_cli(str(out), "--trust", str(world.log_pub), "--json")
    assert code == ExitCode.INVALID, stdout
    doc = json.loads(stdout)
    assert doc["verdict"] == "INVALID"
    assert {"file": "attestation/bundle.dsse.json", "row": None, "seq": None, "reason": (
        "DSSE verification failed: no signature by a trusted key (signed by unknown key(s) "
        f"{attacker_id[:16]}); trusted keys from {world.log_pub}")} in doc["problems"]
    assert victim not in (out / "ledger/events.jsonl").read_text()


def _forge_cosignature(out: Path) -> None:
    """Flip a bit of the witness signature (keeping its name and key id), then reseal."""
    path = out / "checkpoints/end.cosigned.note"
    lines = path.read_text().split("\n")
    i = max(n for n, text in enumerate(lines) if text.startswith("\u2014 agent-ledger-witness "))
    head, b64 = lines[i].rsplit(" ", 1)
    raw = bytearray(base64.b64decode(b64))
    raw[-1] ^= 1
    lines[i] = f"{head} {base64.b64encode(bytes(raw)).decode()}"
    path.write_text("\n".join(lines))


def test_witness_cosignature_travels_and_a_forged_one_fails(world: World) -> None:
    manifest = json.loads((world.bundle / "manifest.json").read_text())
    assert manifest["checkpoints"]["end"]["cosigned"] == "checkpoints/end.cosigned.note"
    gaps = json.loads((world.bundle / "exceptions/known_gaps.json").read_text())
    assert "no_witness" not in {gap["kind"] for gap in gaps}
    witness = CosignatureVerifier.from_vkey(world.witness_vkey.read_text())
    assert witness.timestamp((world.bundle / "checkpoints/end.cosigned.note").read_bytes()) > 0
    assert Witness(world.tmp / "witness").latest(world.settings.origin())[0] == (  # type: ignore[index]
        manifest["checkpoints"]["end"]["size"]
    )
    # the witness key may also come in a trust file, next to the log key
    keys = world.tmp / "auditor-keys.txt"
    keys.write_text(world.log_pub.read_text().strip() + "\n" + world.witness_vkey.read_text())
    report = verify_bundle(world.bundle, keys)
    assert report.verdict == "OK" and report.witness.startswith("cosigned by agent-ledger-witness")
    # an insider holding the log key (not the witness key) forges the cosignature
    forged = world.copy("forged-witness")
    _forge_cosignature(forged)
    reseal(forged, log_signer(world.settings))
    report = verify_bundle(forged, world.log_pub, None, [witness])
    assert (report.verdict, report.witness) == ("INVALID", "cosignature not valid")
    assert verify_bundle(forged, keys).witness == "cosignature not valid"
    assert [p.line() for p in report.problems] == [
        "checkpoints/end.cosigned.note: witness cosignature not valid: "
        "invalid cosignature by witness 'agent-ledger-witness'"
    ]
    # ... or strips it: "no witness", and a failure when the auditor asked for the witness
    stripped = world.copy("no-witness")
    (stripped / "checkpoints/end.cosigned.note").unlink()
    doc = json.loads((stripped / "manifest.json").read_text())
    doc["checkpoints"]["end"]["cosigned"] = None
    doc["files"] = [f for f in doc["files"] if f["path"] != "checkpoints/end.cosigned.note"]
    (stripped / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n")
    reseal(stripped, log_signer(world.settings))
    report = verify_bundle(stripped, world.log_pub)
    assert (report.verdict, report.checks["witness"]) == ("OK", "no witness")
    report = verify_bundle(stripped, world.log_pub, None, [witness])
    assert report.verdict == "INVALID" and report.witness == "no witness"


def run_verify_md(bundle: Path, pub_hex: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run every shell, Python and DuckDB block of the bundle's VERIFY.md in the bundle, in order.

    Returns "lang ok" / "lang FAIL" per block. The Python block gets the pinned key's hex in
    place of its placeholder; a DuckDB SELECT (each is marked "expect 0") passes when it is 0.
    """
    monkeypatch.chdir(bundle)
    con = duckdb.connect()
    results = []
    for lang, code in FENCE.findall((bundle / "VERIFY.md").read_text()):
        if lang == "sh":
            proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=bundle,
                                  capture_output=True, check=False)
            ok = proc.returncode == 0
        elif lang == "python":
            try:
                exec(code.replace(PINNED, pub_hex), {})  # the documented step, as written
                ok = True
            except Exception:  # any refusal by the library fails the step
                ok = False
        else:
            ok = True
            for raw in code.split(";"):
                if statement := re.sub(r"--[^\n]*", "", raw).strip():
                    rows = con.execute(statement).fetchall()
                    ok &= not statement.startswith("SELECT") or rows == [(0,)]
        results.append(f"{lang} {'ok' if ok else 'FAIL'}")
    return results


GENUINE = ["sh ok", "python ok", "sh ok", "sql ok", "sql ok"]


def test_verify_md_steps_pass_on_a_genuine_bundle(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (world.bundle / "VERIFY.md").read_text()
    assert text.count("-- expect 0") == 2 and "' attestation/statement.intoto.json" not in text
    pub = log_signer(world.settings).public_key.hex()
    assert run_verify_md(world.bundle, pub, monkeypatch) == GENUINE


def _rewrite_side_file(out: Path) -> None:
    """Edit events.jsonl, then fix SHA256SUMS, the manifest and the unsigned statement copy."""
    jsonl = out / "ledger/events.jsonl"
    jsonl.write_text(jsonl.read_text().replace('"alice"', '"mallory"', 1))
    digest = hashlib.sha256(jsonl.read_bytes()).hexdigest()
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["files"]:
        if entry["path"] == "ledger/events.jsonl":
            entry["sha256"], entry["bytes"] = digest, jsonl.stat().st_size
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    new = {"ledger/events.jsonl": digest,
           "manifest.json": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()}
    side = out / "attestation/statement.intoto.json"
    statement = json.loads(side.read_text())
    for subject in statement["subject"]:
        subject["digest"]["sha256"] = new.get(subject["name"], subject["digest"]["sha256"])
    side.write_text(json.dumps(statement) + "\n")
    sums = [line.split("  ", 1) for line in (out / "SHA256SUMS").read_text().splitlines()]
    (out / "SHA256SUMS").write_text("".join(
        f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}\n" for _, name in sums
    ))


def _edit_body(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows[5]["body"] = rows[5]["body"].replace('"alice"', '"mallory"')
    return rows


def _drop_mid_run_event(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows.pop(4)
    return rows


def _rewrite_events(out: Path, edit: Any, signer: Signer) -> None:
    table = pq.read_table(out / "ledger/events.parquet")
    rows = edit(table.to_pylist())
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / "ledger/events.parquet")
    (out / "ledger/events.jsonl").write_text("".join(r["body"] + "\n" for r in rows))
    reseal(out, signer)


def test_verify_md_steps_fail_on_tampered_bundles(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = log_signer(world.settings)
    pub = signer.public_key.hex()
    side = world.copy("side-file")
    _rewrite_side_file(side)  # the unsigned copy agrees; the signed payload does not
    assert run_verify_md(side, pub, monkeypatch) == ["sh ok", "python ok", "sh FAIL", "sql ok",
                                                     "sql ok"]
    body = world.copy("body")  # an insider with the log key re-seals an edited body
    _rewrite_events(body, _edit_body, signer)
    assert run_verify_md(body, pub, monkeypatch) == ["sh ok", "python ok", "sh ok", "sql FAIL",
                                                     "sql ok"]
    gap = world.copy("gap")
    _rewrite_events(gap, _drop_mid_run_event, signer)
    assert run_verify_md(gap, pub, monkeypatch) == ["sh ok", "python ok", "sh ok", "sql ok",
                                                    "sql FAIL"]
    resigned = world.copy("resigned")  # the attacker of issue 15: only the pinned key tells
    delete_run_and_resign(resigned, Signer.generate("attacker"))
    assert run_verify_md(resigned, pub, monkeypatch) == ["sh ok", "python FAIL", "sh ok",
                                                         "sql ok", "sql ok"]
