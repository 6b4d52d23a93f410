"""Hostile Langfuse exports (review r17c): the export file is attacker-influenced input.

A line over 1 MiB is skipped unread (it was read whole into memory first: a multi-GB line or a
file with no newline exhausted memory). Deep nesting (900 levels in `input`) reached recursive
code (canonical JSON) and ended the import as "internal error: RecursionError" (exit 70); now
the record is skipped with its reason.
Terminal escapes and bidi controls in ids are escaped wherever the report prints them. A record
re-imported with changed content under the same source ids is skipped as "different content",
never counted `already present` (decision: the ledger keeps the first copy; the change is said
out loud and the exit code is 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .kit import report


def _obs(oid: str, trace: str = "t-h", **extra: Any) -> dict[str, Any]:
    return {"id": oid, "traceId": trace, "projectId": "proj-h", "type": "TOOL", "name": "refund",
            "startTime": "2026-11-02T09:00:00.000Z", "endTime": "2026-11-02T09:00:01.000Z",
            "input": {"order": "A1"}, "output": {"ok": True}, **extra}


def _write(path: Path, *records: Any) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_deeply_nested_record_is_skipped_with_a_reason(cli: Any, tmp_path: Path) -> None:
    deep: Any = 1
    for _ in range(900):
        deep = [deep]
    trace = {"id": "t-deep2", "timestamp": "2026-11-02T09:00:00Z", "name": deep}
    src = _write(tmp_path / "x.jsonl", _obs("o-deep", trace="t-deep", input=deep), trace,
                 _obs("o-fine", trace="t-deep"))
    res = cli("import", "langfuse", str(src), "--json")
    assert res.exit_code == 1, res.stderr
    assert "internal error" not in res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["skipped"]) == (3, 1, 2)
    assert [(s["record"], s["reason"]) for s in rep["skipped_records"]] == [
        ("x.jsonl:1", "JSON nested deeper than 48 levels"),
        ("x.jsonl:2", "JSON nested deeper than 48 levels")]


def test_escapes_in_ids_are_not_printed_raw(cli: Any, tmp_path: Path) -> None:
    evil = "t-\x1b]0;pwned\x07\u202eevil"
    src = _write(tmp_path / "x.jsonl", _obs("o-\x1b[2J", trace=evil, startTime="nope"))
    res = cli("import", "langfuse", str(src))
    assert res.exit_code == 1
    assert "\x1b" not in res.stderr and "\u202e" not in res.stderr and "\x07" not in res.stderr
    assert "skipped" in res.stderr


def test_changed_record_under_same_ids_is_skipped_not_present(
        cli: Any, tmp_path: Path) -> None:
    first = _write(tmp_path / "a.jsonl", _obs("o-c", trace="t-changed"))
    assert cli("import", "langfuse", str(first)).exit_code == 0
    changed = _write(tmp_path / "b.jsonl", _obs("o-c", trace="t-changed",
                                                output={"ok": False, "refunded": 4000}))
    res = cli("import", "langfuse", str(changed), "--json")
    assert res.exit_code == 1
    rep = report(res)
    assert (rep["imported"], rep["already_present"], rep["skipped"]) == (0, 0, 1)
    assert "different content" in rep["skipped_records"][0]["reason"]


def test_huge_line_is_skipped_unread_and_the_rest_imported(cli: Any, tmp_path: Path) -> None:
    src = tmp_path / "x.jsonl"
    with src.open("wb") as out:
        out.write(json.dumps(_obs("o-big", trace="t-huge", input="A" * 3_000_000)).encode())
        out.write(b"\n" + json.dumps(_obs("o-ok", trace="t-huge")).encode() + b"\n")
        out.write(b'{"id": "o-tail", ' + b" " * 2_500_000)  # no newline at all
    res = cli("import", "langfuse", str(src), "--json")
    assert res.exit_code == 1, res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["skipped"]) == (3, 1, 2)
    assert [(s["record"], s["reason"]) for s in rep["skipped_records"]] == [
        ("x.jsonl:1", "line longer than 1048576 bytes"),
        ("x.jsonl:3", "line longer than 1048576 bytes")]
