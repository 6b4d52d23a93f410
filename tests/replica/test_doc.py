"""docs/scaling.md's read-replica blocks are what runs: the first is the transcript of this
session's set-up (compared line for line), the second is executed here, line by line.

Why not tests/docs: its blocks run against one fresh ledger, and these need two servers.
"""

from __future__ import annotations

import re
import shlex
from itertools import pairwise
from pathlib import Path

from tests.conftest import REPO
from tests.replica.conftest import GROUP, Cli, Replicated

pytestmark = GROUP

DOC = REPO / "docs" / "scaling.md"
SETUP = "# transcript: the set-up"
READS = "# executed: reads from the replica"
FENCE = re.compile(r"^```sh\n(.*?)^```\s*$", re.S | re.M)
READ_PREFIX = "LEDGER_READ_DSN=$REPLICA "
CUSTODY = "SELECT count(*) FROM ledger_events WHERE type = 'export.created'"


def block(marker: str) -> str:
    """The sh block of docs/scaling.md whose first line is `marker`, without its comments."""
    for found in FENCE.finditer(DOC.read_text(encoding="utf-8")):
        text = found.group(1)
        if text.startswith(marker):
            return "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    raise AssertionError(f"docs/scaling.md has no sh block starting {marker!r}")


def test_the_set_up_block_is_the_transcript_of_this_session(replicated: Replicated) -> None:
    assert block(SETUP) == "\n".join(replicated.setup)


def test_the_read_block_runs(replicated: Replicated, cli: Cli, tmp_path: Path) -> None:
    pair = replicated.pair
    pair.caught_up()
    before = pair.query("primary", CUSTODY)
    for line in block(READS).splitlines():
        if line.startswith("psql "):
            pair.run("psql", *shlex.split(pair.real(line))[1:])
            if "pg_wal_replay_pause()" in line:
                replicated.wait_paused()
                replicated.record_runs(1, agent="while-paused")  # agents go on writing
            elif "pg_wal_replay_resume()" in line:
                pair.caught_up()
            continue
        replica = line.startswith(READ_PREFIX)
        args = shlex.split(line.removeprefix(READ_PREFIX))
        assert args[0] == "ledger", line
        args = [str(tmp_path / a) if b == "--out" else a for b, a in pairwise(args)]
        result = cli(*args, replica=replica, record=False)
        assert result.exit_code == 0, f"{line}: {result.stderr}"
        if args[0] == "export":  # its custody event: on the primary, not on the paused replica
            assert pair.query("primary", CUSTODY) == before + 1  # type: ignore[operator]
            assert pair.query("replica", CUSTODY) == before
        if args[0] == "verify":
            assert result.stdout.startswith("OK"), result.stdout
