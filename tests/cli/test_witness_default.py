"""`ledger witness` keeps its state in one default place, so `witness show` needs no --state.

Issue 18: `witness show` required `--state` with no default. The default is $LEDGER_WITNESS_DIR
(the sequencer's in-process witness reads it too), else HOME/witness; `show` only reads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.errors import ExitCode
from tests.cli.conftest import Main


def test_show_finds_what_init_wrote_under_the_home(
    main: Main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEDGER_WITNESS_DIR", raising=False)
    env = {"LEDGER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()  # a missing home is the home rule's error (test_home_rule)
    none = main("witness", "show", env=env)
    assert (none.exit_code, none.stderr) == (
        ExitCode.USAGE,
        f"error: no witness in {tmp_path / 'home' / 'witness'}: run `ledger witness init` "
        "(or give --state)\n",
    )
    assert not (tmp_path / "home" / "witness" / "witness.key").exists()  # show creates nothing
    vkey = main("witness", "init", env=env)
    assert vkey.exit_code == 0, vkey.stderr
    assert (tmp_path / "home" / "witness" / "witness.key").is_file()
    shown = main("witness", "show", env=env)
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout) == {"vkey": vkey.stdout.strip(), "logs": {}}


def test_the_state_follows_ledger_witness_dir_and_state(
    main: Main, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"LEDGER_HOME": str(tmp_path / "home"), "LEDGER_WITNESS_DIR": str(tmp_path / "w")}
    vkey = main("witness", "init", env=env).stdout.strip()
    assert (tmp_path / "w" / "witness.key").is_file()
    assert json.loads(main("witness", "show", env=env).stdout)["vkey"] == vkey
    other = main("witness", "init", "--state", str(tmp_path / "x"), env=env).stdout.strip()
    assert other != vkey
    shown = main("witness", "show", "--state", str(tmp_path / "x"), env=env)
    assert json.loads(shown.stdout)["vkey"] == other
