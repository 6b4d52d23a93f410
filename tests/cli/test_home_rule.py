"""The home rule (issue 18): a read command on a home that does not exist is one usage line.

A mistyped `--home` used to start an empty embedded database there and print an empty table as
if it were the ledger. Now commands that only read refuse it (exit 2, one line naming the path
and `ledger init`) and create nothing; commands that write create it; an existing empty
directory is a new ledger. Real `ledger` processes on real embedded servers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.cli.common import OFFLINE, WRITES, home_rule
from ledger.config import Settings
from ledger.db.embedded import stop_embedded
from ledger.errors import InputError
from tests.conftest import LEDGER_BIN

RUN = "01a2487f-946d-7000-bded-5bfae89d2ff2"
READS = [
    ("runs",),
    ("show", RUN),
    ("export", "--out", "bundle", "--since", "7d", "--until", "1m"),
]


def ledger(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real `ledger` on the embedded database of `home` (no LEDGER_DSN)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return subprocess.run([LEDGER_BIN, "--home", str(home), *args], env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.fixture
def home() -> Iterator[Path]:
    """A home path (short, outside pytest's temp dirs: as root the server runs as another user
    that must reach it); servers started there are stopped and the directory removed after."""
    base = Path(tempfile.mkdtemp(prefix="ledger-home-"))
    base.chmod(0o755)
    where = base / "home"
    yield where
    stop_embedded(where / "pgdata")
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("args", READS, ids=" ".join)
def test_a_read_command_refuses_a_missing_home_and_creates_nothing(home: Path,
                                                                    args: tuple[str, ...]) -> None:
    done = ledger(home, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == (  # strip: export's progress bar opens with a blank line
        f"error: no ledger at {home}: the directory does not exist "
        "(check --home/LEDGER_HOME, or create a ledger there with `ledger init`)"
    )
    assert not home.exists()


def test_offline_commands_do_not_need_a_home(home: Path, tmp_path: Path) -> None:
    done = ledger(home, "verify-proof", str(tmp_path / "proof.json"))
    assert "no ledger at" not in done.stderr
    assert not home.exists()


def test_init_creates_a_missing_home_then_read_commands_work(home: Path) -> None:
    created = ledger(home, "init")
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith(f"ledger ready at {home} (embedded database, ")
    assert (home / "pgdata" / "PG_VERSION").is_file()
    runs = ledger(home, "runs")  # the server `init` left running, the schema already current
    assert (runs.returncode, runs.stdout, runs.stderr) == (
        0, "RUN  AGENT  USER  STARTED  STATUS  EVENTS\n0 runs\n", "")


def test_the_table_names_real_commands_and_the_rule_is_only_for_the_embedded_home(
    tmp_path: Path,
) -> None:
    """Every WRITES/OFFLINE entry is a command; with an external DSN the home is not the ledger."""
    listed = subprocess.run([LEDGER_BIN, "--help"], capture_output=True, text=True, check=True)
    commands = {line.split()[0] for line in listed.stdout.split("Commands:")[1].splitlines()
                if line.startswith("  ") and not line.startswith("   ")}
    assert {entry.split()[0] for entry in WRITES | OFFLINE} <= commands
    home_rule(Settings(home=tmp_path), "runs")  # an existing (empty) directory: a new ledger
    missing = tmp_path / "typo"
    with pytest.raises(InputError, match="no ledger at"):
        home_rule(Settings(home=missing), "runs")
    home_rule(Settings(home=missing), "keys rotate")
    home_rule(Settings(home=missing), "undo plan")
    home_rule(Settings(home=missing, dsn="postgresql://elsewhere/ledger"), "runs")
