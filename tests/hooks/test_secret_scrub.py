"""Attack side of secret scrubbing: an agent's tool args, tool results and LLM output carry one
secret of each kind, through the capture hooks and through `ledger ingest`; afterwards no row
of any table in the ledger database holds any of them in clear (nor as hex of a bytea column),
and `ledger verify` still passes over the scrubbed records."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import psycopg
import pytest
from psycopg import sql

import ledger.hooks as hooks
from ledger.events import args_hash
from ledger.hooks.writer import Writer

from .conftest import stored


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def secrets(tag: str) -> tuple[dict[str, Any], list[str]]:
    """Tool args with one secret of each kind (unique per `tag`) and the strings to grep for."""
    aws = f"wJalrXUtnFEMI/K7MDENG/{tag}".ljust(40, "K")  # 40 characters, as AWS issues them
    aws2 = f"Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2{tag}".ljust(40, "P")
    pat = f"github_pat_11AAAA{tag}BBBBCCCCDDDD_" + "e1F2g3H4i5" * 6
    header = f"hdrsecret{tag}7e6b5a4f"
    header_key = f"dictheader{tag}9q8w"
    password = f"s3cr3t-{tag}-pw"
    basic = b64(f"admin:{password}")
    blob = b64(f"aws_secret_access_key={aws2}")
    args = {
        "env": f"export aws_secret_access_key={aws}",
        "token": f"use {pat} to clone",
        "curl": f"curl -H 'X-Api-Key: {header}' https://api.example",
        "headers": {"X-Api-Key": header_key, "Authorization": f"Basic {basic}"},
        "note": f"Authorization: Basic {basic}",
        "config_b64": blob,
    }
    return args, [aws, aws2, pat, header, header_key, password, basic, blob]


def assert_nowhere_in_clear(conn: psycopg.Connection, needles: list[str]) -> int:
    """Grep every row of every table for each needle (as text and as bytea hex); rows seen."""
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
    rows = 0
    for table in tables:
        for (text,) in conn.execute(
            sql.SQL("SELECT t::text FROM {} t").format(sql.Identifier(table))
        ).fetchall():
            rows += 1
            for needle in needles:
                assert needle not in text, f"{needle!r} in clear in {table}"
                assert needle.encode().hex() not in text, f"{needle!r} as bytes in {table}"
    return rows


@hooks.tool(name="deploy", side_effect=True)
def deploy(**kwargs: Any) -> dict[str, Any]:
    return {"echo": kwargs}


def test_hooks_never_store_a_secret_in_clear(writer: Writer, ledger_conn, cli: Any) -> None:
    args, needles = secrets("HOOK")
    with hooks.run(agent="a") as run:
        deploy(**args)
        run.llm_call(model="m", request={"messages": [args["note"]]},
                     response={"text": f"Here you go: {args['token']} {args['env']}"})
        run.message_output(args["curl"])
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    started = next(e for e in events if e.type == "tool.call.started")
    markers = json.dumps(started.data.args)
    for kind in ("aws_secret_access_key", "github_pat", "api_key_header", "key:X-Api-Key",
                 "key:Authorization", "basic_auth", "base64:aws_secret_access_key"):
        assert f"[secret:{kind} sha256:" in markers
    # the args hash commits to what the agent passed, not to the scrubbed record (as truncation)
    assert started.data.args_hash == args_hash({"kwargs": args}) != args_hash(started.data.args)
    assert writer.stats.scrubbed >= 8
    assert assert_nowhere_in_clear(ledger_conn, needles) > len(events)
    assert cli("verify").exit_code == 0


def test_ingest_never_stores_a_secret_in_clear(ledger_conn, cli: Any) -> None:
    args, needles = secrets("INGEST")
    run = str(uuid.uuid4())
    lines = [
        {"type": "run.started", "run_id": run, "data": {"task": "t", "attributes": args}},
        {"type": "tool.call.started", "run_id": run, "raw": {"schema": "x/1", "payload": args},
         "data": {"tool_call_id": "c1", "tool": "deploy", "args": args,
                  "args_hash": args_hash(args)}},
        {"type": "llm.call.ended", "run_id": run,
         "data": {"call_id": "l1", "output": {"text": f"{args['token']} {args['config_b64']}"}}},
        {"type": "message.output", "run_id": run,
         "data": {"role": "assistant", "content": args["curl"]}},
    ]
    res = cli("ingest", "-", input="\n".join(json.dumps(x) for x in lines).encode())
    assert res.exit_code == 0, res.stderr
    events = stored(ledger_conn, uuid.UUID(run))
    assert [e.type for e in events] == [x["type"] for x in lines]
    assert "[secret:github_pat sha256:" in events[2].data.output["text"]
    assert "[secret:base64:aws_secret_access_key sha256:" in events[2].data.output["text"]
    assert "[secret:key:X-Api-Key sha256:" in json.dumps(events[1].raw.payload)
    assert assert_nowhere_in_clear(ledger_conn, needles) >= len(lines)
    assert cli("verify").exit_code == 0


@pytest.mark.parametrize("needle_index", [0])
def test_grep_finds_an_unscrubbed_secret(ledger_conn, needle_index: int) -> None:
    """The grep itself is not blind: a secret planted straight into a table is found."""
    _, needles = secrets("PLANT")
    ledger_conn.execute("CREATE TABLE plant (b bytea)")
    ledger_conn.execute("INSERT INTO plant VALUES (%s)", (needles[needle_index].encode(),))
    with pytest.raises(AssertionError, match="as bytes in plant"):
        assert_nowhere_in_clear(ledger_conn, needles)


def test_an_event_replaced_by_a_gap_does_not_quote_the_secret(writer: Writer, ledger_conn) -> None:
    """An invalid event becomes a ledger.gap whose details quote the validation error, which
    quotes the agent's value: the secret in it is scrubbed there too."""
    args, needles = secrets("GAP")
    with hooks.run(agent="a") as run:
        run.guardrail("g", f"maybe {args['token']}")  # type: ignore[arg-type]  # not a verdict
    assert writer.flush()
    events = stored(ledger_conn, run.run_id)
    assert [e.type for e in events] == ["run.started", "ledger.gap", "run.ended"]
    # pydantic shortens the quoted value in the middle: its head shows the marker
    assert "input_value='maybe use [secret:github" in events[1].data.details["error"]
    assert_nowhere_in_clear(ledger_conn, needles)
