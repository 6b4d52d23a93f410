"""Effect contracts: loading, validation errors with file:line, digests, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from replay.undo.contracts import ContractError, load_contract_file, load_contracts, render
from replay.undo.examples import CONTRACTS_DIR


def test_example_contracts_load_with_stable_digests() -> None:
    reg = load_contracts([CONTRACTS_DIR])
    assert reg.tools() == ["crm.delete_record", "crm.update_field", "email.send", "payments.refund"]
    again = load_contracts([CONTRACTS_DIR])
    for tool in reg.tools():
        digest = reg.digest_for(tool)
        assert digest is not None and len(digest) == 64
        assert again.digest_for(tool) == digest
        assert reg.resolve(tool, digest) == (reg.in_force(tool), "recorded", digest)
    assert reg.in_force("email.send").effect_class == "irreversible"  # type: ignore[union-attr]


def test_undeclared_tool_is_unknown_and_treated_as_irreversible() -> None:
    reg = load_contracts([CONTRACTS_DIR])
    contract, how, _ = reg.resolve("shell.exec", None)
    assert (contract.effect_class, how, contract.compensation) == ("unknown", "undeclared", None)
    contract, how, _ = reg.resolve("crm.update_field", "0" * 64)
    assert (contract.effect_class, how) == ("unknown", "recorded digest not found")


def test_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "tool: x.y\nversion: 1\neffect_class: compensable\ncompensation:\n"
        "  op: x.undo\n  effectiveness: mostly\n"
    )
    with pytest.raises(ContractError, match=r"bad\.yaml:6: compensation\.effectiveness"):
        load_contract_file(bad)


def test_semantic_errors_are_reported(tmp_path: Path) -> None:
    f = tmp_path / "rev.yaml"
    f.write_text("tool: a.b\nversion: 1\neffect_class: reversible\n")
    with pytest.raises(ContractError, match=r"rev\.yaml:1: .*reversible needs pre_state"):
        load_contract_file(f)
    f.write_text("tool: a.b\nversion: 1\neffect_class: read_only\nwindow: {duration: 3 days}\n")
    with pytest.raises(ContractError, match=r"rev\.yaml:4: window\.duration"):
        load_contract_file(f)
    f.write_text("tool: a.b\nversion: [1\n")
    with pytest.raises(ContractError, match=r"rev\.yaml:\d+: invalid YAML"):
        load_contract_file(f)


def test_same_version_with_different_content_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("tool: a.b\nversion: 1\neffect_class: read_only\n")
    (tmp_path / "b.yaml").write_text("tool: a.b\nversion: 1\neffect_class: irreversible\n")
    with pytest.raises(ContractError, match="declared twice"):
        load_contracts([tmp_path])


def test_render_keeps_types_and_formats_strings() -> None:
    ctx = {"args": {"id": "c1", "n": 5}, "result": {"r": None}, "pre_state": {"row": {"a": 1}}}
    assert render(
        {"x": "{args.n}", "y": "id={args.id}", "z": "{result.r}", "w": "{pre_state.row}"}, ctx
    ) == {"x": 5, "y": "id=c1", "z": None, "w": {"a": 1}}
    with pytest.raises(KeyError):
        render("{result.missing}", ctx)
