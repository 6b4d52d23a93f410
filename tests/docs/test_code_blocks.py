"""Every code block in README.md and docs/*.md that is meant to run, runs in the test suite.

Documentation that is never executed rots; this test keeps the examples true against a fresh
ledger (the `ledger_settings` / `cli` fixtures: a new migrated database and home per test).

What runs, by the fence's language:
- ```python: each file's python blocks are exec'd in order in one namespace, after
  `ledger.hooks.configure(ledger_settings)`, so examples write to the test's database; the run
  ends with `ledger.flush()` returning True (every event durable). docs/hooks.md's python blocks
  are left to tests/hooks/test_docs.py (which needs the hooks' flaky-database writer).
- ```console: each line that starts with `ledger ` or `$ ledger ` runs through the real CLI
  against a ledger seeded with one chained run, and must exit 0. Supported shell: a trailing
  `# comment`, `> FILE` (stdout saved into a scratch directory; later lines naming FILE get its
  path) and `echo '...' | ledger ...` (stdin). Other lines (`make demo`, `export X=...`) are not
  commands of ours and are skipped. `ledger serve` and `ledger tui` run until interrupted, so
  they are skipped.
- ```jsonl: the block is fed to `ledger ingest -`, which must exit 0.
Other languages (text, sh, sql, yaml, json) are illustrations and are not run.

Opting out: a block whose first line is `# not run: <reason>` is skipped (and a console LINE that
contains `# not run: <reason>` is skipped), e.g. a block that needs an external server or a file
the reader has and the test does not. A console line may end with `# exit N` to expect exit N.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

import ledger
import ledger.hooks as hooks
from ledger.config import Settings
from tests.ledgerkit import append, chained_run

ROOT = Path(__file__).resolve().parents[2]
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_COVERED_ELSEWHERE = {"docs/hooks.md"}  # tests/hooks/test_docs.py runs those
NOT_RUN = "# not run"
LONG_RUNNING = {"serve", "tui"}
FENCE = re.compile(r"^```([A-Za-z0-9_-]*)[^\n]*\n(.*?)^```\s*$", re.S | re.M)
ECHO_PIPE = re.compile(r"^echo '([^']*)' \| (ledger .*)$")
EXIT_CODE = re.compile(r"#\s*exit (\d+)\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is and what it holds."""

    path: str
    index: int  # position among all fenced blocks of the file (1-based, for humans)
    line: int
    lang: str
    text: str

    @property
    def skipped(self) -> bool:
        first = self.text.lstrip().splitlines()[0] if self.text.strip() else ""
        return first.startswith(NOT_RUN)

    def __str__(self) -> str:
        return f"{self.path}:{self.line} (```{self.lang} block #{self.index})"


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for index, match in enumerate(FENCE.finditer(text), start=1):
        line = text.count("\n", 0, match.start()) + 1
        rel = path.relative_to(ROOT).as_posix()
        found.append(Block(rel, index, line, match.group(1).lower(), match.group(2)))
    return found


ALL = [b for path in DOC_FILES for b in blocks(path)]
PYTHON_FILES = sorted(
    {b.path for b in ALL if b.lang == "python" and b.path not in PYTHON_COVERED_ELSEWHERE}
)
CONSOLE = [b for b in ALL if b.lang == "console"]
JSONL = [b for b in ALL if b.lang == "jsonl"]


def _ids(items: list[Block]) -> list[str]:
    return [f"{b.path}:{b.line}" for b in items]


@pytest.fixture
def seeded(ledger_conn: psycopg.Connection, ledger_settings: Settings) -> Settings:
    """A ledger holding one complete chained run, so runs/checkpoint/verify have data."""
    append(ledger_conn, ledger_settings, chained_run(2))
    return ledger_settings


@pytest.fixture
def configured(ledger_settings: Settings) -> Iterator[Settings]:
    hooks.configure(ledger_settings)
    try:
        yield ledger_settings
    finally:
        hooks.shutdown()


def test_docs_have_runnable_blocks() -> None:
    """Guard against the collector silently finding nothing (a changed fence style)."""
    assert PYTHON_FILES and CONSOLE and JSONL
    assert any(b.path == "README.md" for b in CONSOLE)


@pytest.mark.parametrize("doc", PYTHON_FILES)
def test_python_blocks(doc: str, configured: Settings) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_{Path(doc).stem}"}
    ran = 0
    for block in (b for b in ALL if b.path == doc and b.lang == "python"):
        if block.skipped:
            continue
        try:
            exec(compile(block.text, str(block), "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{block} failed: {type(exc).__name__}: {exc}") from exc
        ran += 1
    assert ran > 0 or all(b.skipped for b in ALL if b.path == doc and b.lang == "python")
    assert ledger.flush(60), f"{doc}: events still only spooled after the examples ran"


def _command_lines(block: Block) -> Iterator[tuple[str, str | None]]:
    """(command line, stdin) for every line of ours that should run."""
    for raw in block.text.splitlines():
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:].strip()
        if NOT_RUN in line:
            continue
        piped = ECHO_PIPE.match(line)
        if piped:
            yield piped.group(2), piped.group(1) + "\n"
        elif line.startswith("ledger "):
            yield line, None


def _run_line(
    cli: Callable[..., Any], line: str, stdin: str | None, work: Path, block: Block
) -> None:
    expected = int(m.group(1)) if (m := EXIT_CODE.search(line)) else 0
    args = shlex.split(line, comments=True)[1:]
    if not args or args[0] in LONG_RUNNING:
        return
    out_file: Path | None = None
    if ">" in args:
        at = args.index(">")
        out_file, args = work / args[at + 1], args[:at]
    args = [str(work / a) if (work / a).is_file() else a for a in args]
    res = cli(*args, input=stdin.encode() if stdin is not None else None)
    assert res.exit_code == expected, (
        f"{block}: `{line}` exited {res.exit_code} (expected {expected})\n"
        f"stdout: {res.stdout[-2000:]}\nstderr: {res.stderr[-2000:]}"
    )
    if out_file is not None:
        out_file.write_text(res.stdout, encoding="utf-8")


@pytest.mark.parametrize("block", CONSOLE, ids=_ids(CONSOLE))
def test_console_block(block: Block, seeded: Settings, cli: Any, tmp_path: Path) -> None:
    if block.skipped:
        pytest.skip(f"{block}: {block.text.strip().splitlines()[0]}")
    work = tmp_path / "work"
    work.mkdir()
    lines = list(_command_lines(block))
    if not lines:
        pytest.skip(f"{block}: no `ledger` command lines")
    for line, stdin in lines:
        _run_line(cli, line, stdin, work, block)


@pytest.mark.parametrize("block", JSONL, ids=_ids(JSONL))
def test_jsonl_block_ingests(block: Block, ledger_settings: Settings, cli: Any) -> None:
    if block.skipped:
        pytest.skip(f"{block}: {block.text.strip().splitlines()[0]}")
    res = cli("ingest", "-", input=block.text.encode())
    assert res.exit_code == 0, f"{block}: ledger ingest - exited {res.exit_code}\n{res.stderr}"
    verify = cli("verify", "--json")
    assert verify.exit_code == 0, f"{block}: verify after ingest failed\n{verify.stdout}"
