"""A missing or unreadable input file is a usage error (exit 2, one line), never INVALID.

Issue 18: `verify-proof` and `verify-bundle` said "INVALID" for a mistyped path, which must mean
tampering. Every command taking an input file checks it the same way (ledger/cli/common.py
`input_option`/`input_argument`), before it reads anything or connects.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ExitCode
from tests.cli.conftest import Main
from tests.conftest import LEDGER_BIN

NOPE = "/nonexistent/ledger-input"
CASES = [
    ("verify-proof", NOPE),
    ("verify-proof", "{proof}", "--trust", NOPE),
    ("verify-proof", "{proof}", "--witness-key", NOPE),
    ("verify-proof", "{proof}", "--pin", NOPE),
    ("verify-bundle", "{dir}", "--trust", NOPE),
    ("verify-bundle", "{dir}", "--witness-key", NOPE),
    ("verify-bundle", "{dir}", "--trust-root", NOPE),
    ("verify", "--pin", NOPE),
    ("verify", "--trust", NOPE),
    ("check", "--trust-root", NOPE),
    ("policy", "publish", NOPE),
    ("registry", "publish", NOPE),
    ("registry", "sign", NOPE, "--key", "admin"),
    ("undo", "dry-run", NOPE),
    ("undo", "approve", NOPE, "--as", "dana"),
    ("undo", "apply", NOPE),
    ("undo", "coverage", "--contracts", NOPE),
    ("import", "langfuse", NOPE),
    ("ingest", NOPE),
    ("witness", "cosign", NOPE),
    ("witness", "cosign", "{proof}", "--proof", NOPE),
]


@pytest.mark.parametrize("args", CASES, ids=lambda a: " ".join(a).replace(NOPE, "NOPE"))
def test_a_missing_input_is_one_usage_line(main: Main, tmp_path: Path, args: tuple[str, ...]
                                           ) -> None:
    (tmp_path / "proof.json").write_text("{}")
    filled = [a.format(proof=tmp_path / "proof.json", dir=tmp_path) for a in args]
    res = main(*filled, env={"LEDGER_HOME": str(tmp_path / "home")})
    assert (res.exit_code, res.stderr, res.stdout) == (
        ExitCode.USAGE, f"error: no such file: {NOPE}\n", ""
    )


def test_a_directory_or_missing_bundle_is_not_invalid(main: Main, tmp_path: Path) -> None:
    res = main("verify-proof", str(tmp_path))
    assert (res.exit_code, res.stderr) == (ExitCode.USAGE, f"error: not a file: {tmp_path}\n")
    res = main("verify-bundle", NOPE)
    assert (res.exit_code, res.stderr) == (ExitCode.USAGE, f"error: no such directory: {NOPE}\n")
    (tmp_path / "file").write_text("x")
    res = main("verify-bundle", str(tmp_path / "file"))
    assert res.exit_code == ExitCode.USAGE and "INVALID" not in res.stdout + res.stderr


def test_the_console_script_says_the_same(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run([LEDGER_BIN, "verify-proof", NOPE], capture_output=True, text=True,
                          check=False, timeout=120)
    assert (proc.returncode, proc.stderr, proc.stdout) == (2, f"error: no such file: {NOPE}\n", "")
