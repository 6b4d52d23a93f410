"""Every command reads times, spans, "who" and input files the same way (issue 18).

Structural: walks every registered command (all layers' entry points) and checks the options
as registered, so a new command that takes `--since` raw, names its actor `--by`, or reads a
file without the shared check fails here, not in a user's hands.
"""

from __future__ import annotations

import re
from pathlib import Path

from ledger.cli.common import TIME_FORMS
from ledger.errors import ExitCode
from tests.cli.conftest import Main, Param, all_params

PARAMS = list(all_params())
OLD_WHO = {"--user", "--by", "--approver", "--operator", "--authorised-by", "--authorized-by"}
TIME_NAME = re.compile(
    r"--(since|until|now|before|after|from-time|to-time|at-time|expires|.*-after|.*-age|"
    r".*-until|.*-since)$"
)
# Not times: positions in a log (replay's --at is an event index, owned by another slice).
NOT_TIMES = {("replay", "--at"), ("keys revoke", "--from-size")}
# Files a command writes or a state it keeps (created when missing), or a key that may be a
# pkcs11: URI / an admin NAME (exit 4 when missing, documented), or a vkey given inline.
NOT_INPUTS = {"--out", "-o", "--state", "--key", "vkey", "--junit",  # --junit: written
              "--tiles-dir", "out_dir"}  # written: serve --tiles-dir, tiles export DIR
# Input files of commands other slices own (issue 18): they still use click's own check or
# none; listed in the climisc report for their owners.
KNOWN_STRAGGLERS: set[tuple[str, str]] = set()


def _name(p: Param) -> str:
    return next((o for o in p.opts if o.startswith("--")), p.opts[0])


def test_the_walk_sees_every_layer() -> None:
    commands = {p.command for p in PARAMS}
    assert {"verify", "check", "export", "undo plan", "tui", "witness show", "prove"} <= commands


def test_no_old_actor_flag_is_visible() -> None:
    shown = [(p.command, o) for p in PARAMS if not p.hidden for o in p.opts if o in OLD_WHO]
    assert shown == []
    for p in PARAMS:
        if set(p.opts) & OLD_WHO:  # kept one release as a hidden, deprecated alias of --as
            assert p.info.help == "Deprecated: use --as.", (p.command, p.opts)
            assert any("--as" in q.opts for q in PARAMS if q.command == p.command)


def test_every_time_option_uses_the_shared_parser() -> None:
    timed = [p for p in PARAMS if TIME_NAME.match(_name(p)) and (p.command, _name(p))
             not in NOT_TIMES]
    assert len(timed) >= 10
    wrong = [(p.command, _name(p), p.metavar) for p in timed
             if p.metavar not in ("TIME", "DURATION")]
    assert wrong == []
    for p in timed:
        if p.metavar == "TIME":  # made by time_option: help and the parse-time check
            assert TIME_FORMS in p.info.help, (p.command, _name(p))
            assert getattr(p.info.callback, "time_option", False), (p.command, _name(p))


def _reads_a_path(p: Param) -> bool:
    text = str(p.annotation)
    return "Path" in text or "FILE" in (p.metavar or "") or "DIR" in (p.metavar or "")


def test_every_input_file_goes_through_the_shared_check() -> None:
    inputs = [p for p in PARAMS if _reads_a_path(p) and not set(p.opts) & NOT_INPUTS]
    assert len(inputs) >= 20
    unchecked = sorted(
        (p.command, _name(p)) for p in inputs
        if not hasattr(p.info.callback, "input_kind")
    )
    assert unchecked == sorted(KNOWN_STRAGGLERS)


def test_an_input_path_has_one_line_per_mistake(tmp_path: Path) -> None:
    import pytest

    from ledger.cli.common import check_input
    from ledger.errors import InputError

    (tmp_path / "f").write_text("x")
    cases = [
        (tmp_path / "missing", "file", f"no such file: {tmp_path / 'missing'}"),
        (tmp_path / "missing", "dir", f"no such directory: {tmp_path / 'missing'}"),
        (tmp_path, "file", f"not a file: {tmp_path}"),
        (tmp_path / "f", "dir", f"not a directory: {tmp_path / 'f'}"),
    ]
    for path, kind, message in cases:
        with pytest.raises(InputError) as caught:
            check_input(path, kind)  # type: ignore[arg-type]
        assert (str(caught.value), caught.value.exit_code) == (message, ExitCode.USAGE)
    assert check_input(tmp_path / "f") == tmp_path / "f"
    assert check_input(tmp_path, "any") == tmp_path


def test_a_bad_time_is_refused_while_parsing(main: Main) -> None:
    # `import phoenix` took ISO 8601 with a zone only; now the shared forms, checked up front
    res = main("import", "phoenix", "--url", "http://127.0.0.1:9", "--since", "yesterday")
    assert res.exit_code == ExitCode.USAGE
    assert res.stderr.startswith("error: --since 'yesterday' is not a time: give a date")
    assert res.stderr.count("\n") == 1
