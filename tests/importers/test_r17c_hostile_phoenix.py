"""A hostile Phoenix server (review r17c): its answers are attacker-influenced input.

Attack: a server (or anything answering on the URL) sends spans that are not objects, whose
`context` or `attributes` have the wrong shape, nested 900 levels deep, or pages that are not
JSON / not pages, or an error status. Before: AttributeError / RecursionError / JSONDecodeError
/ httpx errors ended the command as "internal error ... a bug in ledger" (exit 70). Now: a bad
span is skipped with its reason (every span seen has one outcome, exit 1), a bad page or an
unreachable server is one line and exit 2; attacker text is never printed raw.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from .kit import report

GOOD = {"context": {"trace_id": "tr-1", "span_id": "sp-1"}, "name": "tool",
        "span_kind": "TOOL", "start_time": "2026-11-02T09:00:00+00:00",
        "end_time": "2026-11-02T09:00:01+00:00", "attributes": {"tool": {"name": "refund"}}}


def _deep() -> Any:
    deep: Any = 1
    for _ in range(900):
        deep = {"a": deep}
    return deep


class _Fake:
    answer: bytes = b""
    status: int = 200


@pytest.fixture
def fake() -> Iterator[tuple[str, type[_Fake]]]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(_Fake.status)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(_Fake.answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Fake
    finally:
        server.shutdown()
        server.server_close()


def test_hostile_spans_are_skipped_with_reasons(cli: Any, fake: tuple[str, type[_Fake]]) -> None:
    url, f = fake
    spans = [["not", "an", "object"], {**GOOD, "context": "tr-1/sp-9"},
             {**GOOD, "context": {"trace_id": "tr-1", "span_id": "sp-2"}, "attributes": [1, 2]},
             {**GOOD, "context": {"trace_id": "tr-1", "span_id": "sp-3"}, "attributes": _deep()},
             {**GOOD, "context": {"trace_id": "\x1b]0;pwn\x07", "span_id": 7}}, GOOD]
    f.answer, f.status = json.dumps({"data": spans, "next_cursor": None}).encode(), 200
    res = cli("import", "phoenix", "--url", url, "--project", "p", "--json")
    assert res.exit_code == 1, res.stderr
    assert "internal error" not in res.stderr and "\x1b" not in res.stderr
    rep = report(res)
    assert (rep["seen"], rep["imported"], rep["skipped"]) == (6, 1, 5)
    assert [s["reason"] for s in rep["skipped_records"]] == [
        "not a JSON object", "span without context.trace_id/span_id",
        "span attributes are not a JSON object", "JSON nested deeper than 48 levels",
        "span without context.trace_id/span_id"]


@pytest.mark.parametrize(("answer", "status", "says"), [
    (b"<html>hello</html>", 200, "is not JSON"),
    (b'[{"data": 1}]', 200, "is not a page of spans"),
    (b'{"data": {"a": 1}}', 200, "is not a page of spans"),
    (b'{"detail": "\x1b[2J nope"}', 500, "HTTPStatusError"),
])
def test_bad_pages_are_one_line_errors(cli: Any, fake: tuple[str, type[_Fake]], answer: bytes,
                                       status: int, says: str) -> None:
    url, f = fake
    f.answer, f.status = answer, status
    res = cli("import", "phoenix", "--url", url, "--project", "p")
    assert res.exit_code == 2, res.stderr
    assert says in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "internal error" not in res.stderr and "\x1b" not in res.stderr


def test_unreachable_server_is_one_line_error(cli: Any) -> None:
    res = cli("import", "phoenix", "--url", "http://127.0.0.1:9", "--project", "p")
    assert res.exit_code == 2, res.stderr
    assert "ConnectError" in res.stderr and len(res.stderr.strip().splitlines()) == 1
