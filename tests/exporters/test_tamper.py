"""Every tampering of a bundle is detected by verify-bundle, even after re-sealing.

`reseal` recomputes manifest digests, SHA256SUMS and the DSSE envelope with the real log key, as
an insider holding the key would: the content checks (leaves, chains, proofs, populations) must
still catch the edit. Without resealing, the digest and signature checks catch it first.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey

from exporters.bundle_seal import file_entry, seal
from exporters.bundle_verify import verify_bundle
from ledger.config import Settings
from ledger.note import Signer
from ledger.store.sequencer import log_signer


def reseal(out: Path, signer: Any) -> None:
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"] = [
        file_entry(out, f["path"], f["media_type"], f.get("rows")) for f in manifest["files"]
    ]
    statement = json.loads(
        base64.b64decode(json.loads((out / "attestation/bundle.dsse.json").read_text())["payload"])
    )
    predicate = {k: v for k, v in statement["predicate"].items() if k != "manifest_sha256"}
    seal(out, manifest, predicate, signer)


def reasons(out: Path, trust: Path | None = None) -> str:
    report = verify_bundle(out, trust)
    assert not report.valid
    return "\n".join(p.line() for p in report.problems)


def _rewrite_events(out: Path, edit: Any) -> None:
    table = pq.read_table(out / "ledger/events.parquet")
    rows = edit(table.to_pylist())
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), out / "ledger/events.parquet")
    body = "".join(r["body"] + "\n" for r in rows)
    (out / "ledger/events.jsonl").write_text(body)


def test_untouched_bundle_is_valid(bundle: Path, ledger_settings: Settings) -> None:
    trust = ledger_settings.log_key_path.with_name("log.key.pub")
    report = verify_bundle(bundle, trust)
    assert report.valid, [p.line() for p in report.problems]
    assert set(report.checks) >= {"files", "dsse", "tree", "events"}
    assert (report.verdict, report.checks["witness"]) == ("OK", "no witness")  # none configured


def test_edited_parquet_row_detected(bundle: Path, ledger_settings: Settings) -> None:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[3]["tool"] = "payments.refund"  # a flat column, body untouched
        return rows

    _rewrite_events(bundle, edit)
    assert "digest or size differs" in reasons(bundle)
    reseal(bundle, log_signer(ledger_settings))
    assert "row 4" in (why := reasons(bundle)) and "column(s) tool differ from the body" in why


def test_edited_body_detected_by_leaf(bundle: Path, ledger_settings: Settings) -> None:
    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rows[5]["body"] = rows[5]["body"].replace('"alice"', '"mallory"')
        return rows

    _rewrite_events(bundle, edit)
    reseal(bundle, log_signer(ledger_settings))
    assert "leaf recomputed from body differs" in reasons(bundle)


def test_removed_event_of_sampled_run_detected(bundle: Path, ledger_settings: Settings) -> None:
    removed: dict[str, Any] = {}

    def edit(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        removed.update(rows.pop(4))  # mid-run event
        return rows

    _rewrite_events(bundle, edit)
    reseal(bundle, log_signer(ledger_settings))
    why = reasons(bundle)
    assert f"run {removed['run_id']}: run_seq {removed['run_seq']} is missing" in why
    assert "rows but manifest.json says" in why


def test_swapped_proof_detected(bundle: Path, ledger_settings: Settings) -> None:
    path = bundle / "checkpoints/consistency.json"
    doc = json.loads(path.read_text())
    assert len(doc["proof"]) >= 2
    doc["proof"][0], doc["proof"][1] = doc["proof"][1], doc["proof"][0]
    path.write_text(json.dumps(doc))
    reseal(bundle, log_signer(ledger_settings))
    assert "consistency proof invalid" in reasons(bundle)


def test_edited_manifest_detected(bundle: Path, ledger_settings: Settings) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["parameters"]["until"] = "2026-01-03T00:00:00Z"  # shrink the declared period
    path.write_text(json.dumps(manifest))
    why = reasons(bundle)
    assert "manifest.json: not covered by the signed statement" in why
    assert "occurred_at outside the exported period" in why


def test_resigned_with_unknown_key_detected(bundle: Path, ledger_settings: Settings) -> None:
    path = bundle / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["row_counts"]["events"] += 0
    manifest["exported_by"] = "someone-else"
    path.write_text(json.dumps(manifest))
    reseal(bundle, Signer.generate("attacker"))
    trust = ledger_settings.log_key_path.with_name("log.key.pub")
    assert "DSSE verification failed: no signature by a trusted key" in reasons(bundle, trust)
    assert "signed by unknown key" in reasons(bundle)  # the bundle's own trust.json too


def test_population_count_mismatch_detected(bundle: Path, ledger_settings: Settings) -> None:
    meta_path = bundle / "populations/CC6.1/tool_calls_by_identity.population.json"
    meta = json.loads(meta_path.read_text())
    meta["row_count"] -= 1
    meta_path.write_text(json.dumps(meta))
    csv_path = bundle / "populations/CC6.1/tool_calls_by_identity.csv"
    lines = csv_path.read_text().splitlines(keepends=True)
    csv_path.write_text("".join(lines[:-1]))  # drop a sampled item
    reseal(bundle, log_signer(ledger_settings))
    why = reasons(bundle)
    assert "re-derived from the events" in why and "tool_calls_by_identity.csv" in why


def test_extra_file_detected(bundle: Path) -> None:
    (bundle / "ledger/extra.txt").write_text("hello")
    assert "extra file" in reasons(bundle)


def test_dsse_reverified_with_securesystemslib(bundle: Path) -> None:
    """A different library (securesystemslib over `cryptography`) accepts our envelope."""
    envelope = Envelope.from_dict(json.loads((bundle / "attestation/bundle.dsse.json").read_text()))
    trust = json.loads((bundle / "keys/trust.json").read_text())
    signer = trust["dsse_signers"][0]
    key = SSlibKey(signer["keyid"], "ed25519", "ed25519", {"public": signer["public_key_hex"]})
    accepted = envelope.verify([key], 1)
    assert set(accepted) == {signer["keyid"]}
    statement = json.loads(envelope.pae().split(b" ", 4)[4])
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    names = {s["name"] for s in statement["subject"]}
    assert "manifest.json" in names and "ledger/events.parquet" in names
    # a different key is refused by the other library as well
    other = Signer.generate("other")
    wrong = SSlibKey(signer["keyid"], "ed25519", "ed25519", {"public": other.public_key.hex()})
    with pytest.raises(Exception, match=r"threshold|Verification"):
        envelope.verify([wrong], 1)


def test_copy_of_bundle_still_valid(bundle: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(bundle, copy)
    assert verify_bundle(copy, None).valid
