"""`gate run` imports an entrypoint module from the working directory, as `python -m` does
(walk-through #15 of issue 19): the `ledger` console script does not put the cwd on sys.path,
so `myagent:run` next to the suite failed without PYTHONPATH=."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from ledger import hooks
from ledger.config import Settings
from tests.gate.checkkit import run_cli, suite_file


def test_an_agent_module_in_the_working_directory_is_imported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    ledger_settings: Settings,
) -> None:
    module = f"myagent_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent('''
        import ledger

        def run(task_input, **params):
            with ledger.run(agent="mine", user="ci", prompt_version="mine/v1") as r:
                r.message_output("ok")
    '''), encoding="utf-8")
    path = suite_file(tmp_path, f"""\
suite: cwd
version: "1"
agent: {{name: mine, entrypoint: "{module}:run"}}
repeats: 1
min_repeats: 1
tasks:
  - id: one
    expect: ['run.status == "succeeded"']
""")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.chdir(tmp_path)
    try:
        res = run_cli(monkeypatch, capsys, ledger_settings, "gate", "run", str(path), "--label",
                      "c1", "--no-record")
    finally:
        hooks.shutdown()
        sys.modules.pop(module, None)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.stdout.splitlines()[0] == "PASS            one  1/1"
