"""The principal registry: only versions the trust root signed judge anything, and only forward.

Written from the side of a hostile writer who can append any event (through `ledger ingest`):
a registry signed by their own key, a genuine registry with a role added after signing, and an
old genuine version re-appended to bring back a revoked role. Each is refused with its reason and
the registry in force stays the administrator's latest.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.authority.registry import registry_document, registry_hash
from ledger.authority.service import load_history, publish_registry
from ledger.authority.signed import RegistryError, SignedRegistry, sign_registry
from ledger.authority.trust import NO_TRUST_ROOT, TrustRoot, TrustRootError
from ledger.config import Settings
from ledger.note import Signer, Verifier
from tests.authority.conftest import signed
from tests.hsmkit import PIN, SoftHsm, needs_softhsm

Cli = Callable[..., Any]
ALICE = {"id": "alice@acme.test", "roles": ["finance_lead"]}
MALLORY = {"id": "mallory@acme.test", "roles": ["support"]}


def _ingest_registry(cli: Cli, item: SignedRegistry) -> None:
    """Append a registry.published event the way a writer can: raw JSON through ingest."""
    reg = item.registry
    line = {
        "type": "registry.published", "run_id": str(uuid.uuid4()), "run_seq": 0,
        "data": {"registry_hash": registry_hash(reg), "name": reg.registry.name,
                 "version": reg.version, **item.to_json()},
    }
    res = cli("ingest", "-", input=(json.dumps(line) + "\n").encode())
    assert res.exit_code == 0, res.stderr


def test_signed_registry_is_in_force_after_its_seq(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer, root: TrustRoot
) -> None:
    done = publish_registry(ledger_conn, ledger_settings, signed(admin, principals=[ALICE]), root)
    history = load_history(ledger_conn, done.origin, root)
    now = history.latest()
    assert now.status == "trusted" and now.digest == done.digest
    assert now.registry is not None and now.registry.roles_of("ALICE@acme.test") == {"finance_lead"}
    before = history.at(now.seq or 0)  # a decision sequenced before the publication
    assert before.registry is None and before.status == "none_published"
    assert "principals are asserted" in before.reason
    again = publish_registry(ledger_conn, ledger_settings, signed(admin, principals=[ALICE]), root)
    assert again.already_published


def test_without_a_trust_root_nothing_is_trusted(
    ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer, root: TrustRoot
) -> None:
    done = publish_registry(ledger_conn, ledger_settings, signed(admin, principals=[ALICE]), root)
    now = load_history(ledger_conn, done.origin, None).latest()
    assert (now.status, now.registry, now.reason) == ("no_trust_root", None, NO_TRUST_ROOT)
    with pytest.raises(RegistryError, match="no trust root given"):
        publish_registry(ledger_conn, ledger_settings, signed(admin, version=2), None)


def test_registry_signed_by_a_writer_key_is_refused(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, root: TrustRoot
) -> None:
    mallory_key = Signer.generate("sec-admin")  # same name as the admin key, other key
    forged = signed(mallory_key, principals=[{**MALLORY, "roles": ["finance_lead"]}])
    with pytest.raises(RegistryError, match="not signed by an administrator key"):
        publish_registry(ledger_conn, ledger_settings, forged, root)
    _ingest_registry(cli, forged)  # the writer goes around the command
    history = load_history(ledger_conn, ledger_settings.origin(), root)
    assert history.latest().registry is None
    assert [r.reason for r in history.refused] == [
        "not signed by an administrator key of the trust root"
    ]


def test_edited_document_under_a_genuine_signature_is_refused(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
    root: TrustRoot,
) -> None:
    genuine = signed(admin, principals=[ALICE, MALLORY])
    publish_registry(ledger_conn, ledger_settings, genuine, root)
    doc = registry_document(genuine.registry)
    doc["registry"]["version"] = 2
    doc["principals"][1]["roles"] = ["finance_lead"]  # mallory grants herself the role
    edited = SignedRegistry.from_json(
        {"document": doc, "signatures": [s.model_dump() for s in genuine.signatures]}, "edit"
    )
    _ingest_registry(cli, edited)
    history = load_history(ledger_conn, ledger_settings.origin(), root)
    assert history.latest().registry == genuine.registry
    assert history.latest().registry.roles_of("mallory@acme.test") == {"support"}  # type: ignore[union-attr]
    assert [r.reason for r in history.refused] == [
        "not signed by an administrator key of the trust root"
    ]


def test_old_version_cannot_be_replayed_to_restore_a_revoked_role(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
    root: TrustRoot,
) -> None:
    v1 = signed(admin, 1, principals=[ALICE, {**MALLORY, "roles": ["finance_lead"]}])
    v2 = signed(admin, 2, principals=[ALICE, MALLORY])  # mallory's role revoked
    publish_registry(ledger_conn, ledger_settings, v1, root)
    publish_registry(ledger_conn, ledger_settings, v2, root)
    with pytest.raises(RegistryError, match="version 1 is not above version 2"):
        publish_registry(ledger_conn, ledger_settings, v1, root)
    _ingest_registry(cli, v1)
    history = load_history(ledger_conn, ledger_settings.origin(), root)
    assert history.latest().registry == v2.registry
    assert [r.reason for r in history.refused] == ["stale: version 1 not above 2"]


def test_trust_root_file_must_hold_public_keys(tmp_path: Path, admin: Signer) -> None:
    bad = tmp_path / "root"
    bad.write_text(admin.private_key_string() + "\n")
    with pytest.raises(TrustRootError, match=r"a private key; give the \.pub"):
        TrustRoot.read(bad)
    bad.write_text("# nothing here\n")
    with pytest.raises(TrustRootError, match="names no administrator key"):
        TrustRoot.read(bad)


def test_cli_sign_publish_show(cli: Cli, tmp_path: Path) -> None:
    res = cli("keys", "admin", "sec-admin", "--out", str(tmp_path / "adm.key"))
    assert res.exit_code == 0, res.stderr
    source = tmp_path / "registry.yaml"
    source.write_text(
        "registry: {name: acme, version: 1, logs: ['agent-ledger.local/*']}\n"
        "principals:\n  - id: alice@acme.test\n    roles: [finance_lead]\n"
        "stop:\n  - roles: [oncall]\n    scopes: ['tenant:default']\n"
    )
    res = cli("registry", "sign", str(source), "--key", str(tmp_path / "adm.key"))
    assert res.exit_code == 0, res.stderr
    signed_file = tmp_path / "registry.signed.json"
    res = cli("registry", "publish", str(signed_file))
    assert (res.exit_code, res.stderr.strip()) == (
        2, f"error: cannot publish: {NO_TRUST_ROOT}"
    )
    root = str(tmp_path / "adm.key.pub")
    res = cli("registry", "publish", str(signed_file), "--trust-root", root)
    assert res.exit_code == 0 and res.stdout.startswith("published: acme v1"), res.stderr
    res = cli("registry", "show", "--json", env={"LEDGER_TRUST_ROOT": root})
    shown = json.loads(res.stdout)
    assert shown["status"] == "trusted" and shown["refused"] == []
    assert shown["registry"]["principals"][0]["roles"] == ["finance_lead"]


def test_registry_rejects_private_keys_and_duplicate_principals(admin: Signer) -> None:
    from pydantic import ValidationError

    from tests.authority.conftest import registry

    with pytest.raises(ValidationError, match="not a public verifier key"):
        registry(principals=[{"id": "a", "approver_key": admin.private_key_string()}])
    with pytest.raises(ValidationError, match="listed twice"):
        registry(principals=[{"id": "Alice@x"}, {"id": "alice@X"}])
    same = {"issuer": "https://idp", "subject": "u-1"}
    with pytest.raises(ValidationError, match="may belong to one principal"):
        registry(principals=[{"id": "a", "identities": [same]}, {"id": "b", "identities": [same]}])


@needs_softhsm
def test_registry_signed_in_a_pkcs11_token_is_trusted_through_its_public_key(
    cli: Cli, softhsm: SoftHsm, tmp_path: Path
) -> None:
    uri = softhsm.uri("registry-admin")
    root = tmp_path / "root.pub"
    root.write_text(Verifier.from_public_key("registry-admin", softhsm.public_key("registry-admin"))
                    .vkey + "\n")
    source = tmp_path / "registry.yaml"
    source.write_text(
        "registry: {name: acme, version: 1, logs: ['*']}\nprincipals: [{id: dana@acme.test}]\n"
    )
    env = {"LEDGER_PKCS11_PIN": PIN}
    res = cli("registry", "sign", str(source), "--key", uri, env=env)
    assert res.exit_code == 0, res.stderr
    assert "pkcs11" not in (tmp_path / "registry.signed.json").read_text()
    res = cli("registry", "publish", str(tmp_path / "registry.signed.json"), "--trust-root",
              str(root))
    assert res.exit_code == 0 and res.stdout.startswith("published: acme v1"), res.stderr


def test_registry_signed_for_another_tenant_cannot_be_replayed_into_this_log(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
    root: TrustRoot,
) -> None:
    """One trust root serves every tenant; a registry the admin signed for tenant globex (where
    mallory is finance_lead) is copied by the default tenant's writer into its own log."""
    from tests.authority.conftest import registry as make

    ours = sign_registry(make(1, principals=[ALICE]).model_copy(update={
        "registry": make(1).registry.model_copy(update={"logs": (ledger_settings.origin(),)})
    }), admin)
    publish_registry(ledger_conn, ledger_settings, ours, root)
    globex_doc = make(7, principals=[{**MALLORY, "roles": ["finance_lead"]}])
    globex = sign_registry(globex_doc.model_copy(update={"registry": globex_doc.registry.model_copy(
        update={"name": "globex", "logs": (ledger_settings.origin("globex"),)})}), admin)
    publish_registry(ledger_conn, ledger_settings, globex, root, tenant="globex")
    with pytest.raises(RegistryError, match="is for logs"):
        publish_registry(ledger_conn, ledger_settings, globex, root)
    _ingest_registry(cli, globex)  # the writer goes around the command
    history = load_history(ledger_conn, ledger_settings.origin(), root)
    assert history.latest().registry == ours.registry  # still ours, v1
    assert [r.reason for r in history.refused] == [
        f"registry 'globex' is for logs ['{ledger_settings.origin('globex')}'], "
        f"not '{ledger_settings.origin()}'"
    ]


def test_another_registry_name_cannot_take_over_a_log(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
    root: TrustRoot,
) -> None:
    """A second registry the admin signed for every log (`logs: ['*']`, another name, a higher
    version) does not replace this log's registry."""
    from tests.authority.conftest import registry as make

    publish_registry(ledger_conn, ledger_settings, signed(admin, principals=[ALICE]), root)
    other_doc = make(9, principals=[{**MALLORY, "roles": ["finance_lead"]}])
    other = sign_registry(other_doc.model_copy(update={"registry": other_doc.registry.model_copy(
        update={"name": "lab"})}), admin)
    with pytest.raises(RegistryError, match="'lab' is not 'acme', the registry in force"):
        publish_registry(ledger_conn, ledger_settings, other, root)
    _ingest_registry(cli, other)
    history = load_history(ledger_conn, ledger_settings.origin(), root)
    assert history.latest().registry is not None
    assert history.latest().registry.registry.name == "acme"  # type: ignore[union-attr]
    assert [r.reason for r in history.refused] == [
        "registry 'lab' is not 'acme', the registry in force"
    ]


def test_attacker_text_is_escaped_in_registry_and_replay_output(
    cli: Cli, ledger_conn: psycopg.Connection, ledger_settings: Settings, admin: Signer,
    root: TrustRoot, root_file: Path,
) -> None:
    """A writer plants OSC / CSI sequences in a registry document key and in the initiating user;
    the on-call engineer's terminal sees them escaped, never interpreted."""
    publish_registry(ledger_conn, ledger_settings, signed(admin, principals=[ALICE]), root)
    evil = "\x1b]0;PWNED\x07\x1b[31m\u202e"
    bogus = {"type": "registry.published", "run_id": str(uuid.uuid4()), "run_seq": 0,
             "data": {"registry_hash": "0" * 64, "name": "x", "version": 2,
                      "document": {"registry": {"name": "x", "version": 2, "logs": ["*"]},
                                   f"bogus{evil}": 1}, "signatures": []}}
    run = {"type": "run.started", "run_id": str(uuid.uuid4()), "run_seq": 0,
           "principal": {"initiating_user": f"bob{evil}"}, "data": {}}
    lines = (json.dumps(bogus) + "\n" + json.dumps(run) + "\n").encode()
    assert cli("ingest", "-", input=lines).exit_code == 0
    env = {"LEDGER_TRUST_ROOT": str(root_file)}
    shown = cli("registry", "show", env=env)
    replayed = cli("replay", run["run_id"], env=env)
    for res in (shown, replayed):
        assert res.exit_code == 0, res.stderr
        assert "\x1b" not in res.stdout and "\u202e" not in res.stdout and "\x07" not in res.stdout
        assert "\\x1b]0;PWNED\\x07\\x1b[31m\\u202e" in res.stdout
