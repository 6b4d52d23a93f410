"""`ledger monitor`: each cycle verifies the new range and re-samples old entries; a tamper in
either is found, named on one stderr line, raised as a metric and recorded as `monitor.alert`."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Callable

import orjson
import psycopg

from ledger.config import Settings
from tests.conftest import LEDGER_BIN, free_port
from tests.ledgerkit import append, chained_run
from tests.monitor.conftest import SIZE, Grown, Main

OLD_TAMPER = (
    "UPDATE ledger_events SET body = convert_to(replace(convert_from(body, 'UTF8'),"
    " 'crm', 'crx'), 'UTF8') WHERE seq = 3"
)


def alerts(conn: psycopg.Connection) -> list[dict[str, object]]:
    rows = conn.execute("SELECT body FROM ledger_events WHERE type = 'monitor.alert'").fetchall()
    return [orjson.loads(bytes(r[0]))["data"] for r in rows]


def test_a_tamper_in_old_entries_is_found_by_re_sampling(grown: Grown, main: Main) -> None:
    first = main("monitor", "--once", "--sample", "100", "--json")
    assert (first.exit_code, first.stderr) == (0, "")
    assert orjson.loads(first.stdout)["verified"] == {grown.origin: [0, SIZE]}
    append(grown.conn, grown.settings, chained_run(1))
    with grown.conn.transaction():  # the owner, triggers off for the edit (test_corpus #19)
        grown.conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
        grown.conn.execute(OLD_TAMPER)
        grown.conn.execute("ALTER TABLE ledger_events ENABLE TRIGGER ledger_events_append_only")
    res = main("monitor", "--once", "--sample", "100")
    assert res.exit_code == 1
    assert res.stdout == (f"monitor: verified 4 new events (sizes: {grown.origin} "
                          f"{SIZE}→{SIZE + 4}); re-sampled 24 old entries\n")
    assert res.stderr == (f"monitor: TAMPER in {grown.origin} at seq 3 (resample): leaf_mismatch: "
                          "leaf hash mismatch at seq 3: stored bytes were changed\n")
    [alert] = alerts(grown.conn)
    assert (alert["seq"], alert["verdict"], alert["found_by"], alert["authority"]) == (
        3, "leaf_mismatch", "resample", "asserted")


def scrape(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    return {k: float(v) for k, _, v in (line.rpartition(" ") for line in text.splitlines()
                                        if line and not line.startswith("#"))}


def poll(what: Callable[[], bool], deadline: float = 20.0) -> None:
    end = time.monotonic() + deadline
    while not what():
        assert time.monotonic() < end, "deadline passed"


def test_the_monitor_process_alerts_within_a_cycle_of_a_tamper(
    ledger_conn: psycopg.Connection, ledger_settings: Settings
) -> None:
    append(ledger_conn, ledger_settings, chained_run(1))
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    env = {**os.environ, "LEDGER_DSN": ledger_settings.dsn or "",
           "LEDGER_HOME": str(ledger_settings.home)}
    proc = subprocess.Popen(
        [LEDGER_BIN, "monitor", "--metrics-addr", f"127.0.0.1:{port}", "--interval", "0.2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    origin = ledger_settings.origin()
    size = f'agent_ledger_monitor_verified_size{{origin="{origin}"}}'
    try:
        def has(key: str, value: float) -> bool:
            try:
                return scrape(url).get(key) == value
            except OSError:
                return False

        poll(lambda: has(size, 4.0))
        assert scrape(url)["agent_ledger_monitor_tamper"] == 0.0
        append(ledger_conn, ledger_settings, chained_run(1))  # NOTIFY wakes the monitor
        poll(lambda: has(size, 8.0))
        ledger_conn.execute("ALTER TABLE ledger_events DISABLE TRIGGER ledger_events_append_only")
        ledger_conn.execute(OLD_TAMPER.replace("seq = 3", "seq = 6"))
        ledger_conn.execute("ALTER TABLE ledger_events ENABLE TRIGGER ledger_events_append_only")
        poll(lambda: has("agent_ledger_monitor_tamper", 1.0))
        assert proc.wait(timeout=20) == 1
    finally:
        proc.kill()
        out, err = proc.communicate()
    assert err.decode().splitlines() == [
        f"monitor: TAMPER in {origin} at seq 6 (resample): leaf_mismatch: "
        "leaf hash mismatch at seq 6: stored bytes were changed"
    ]
    [alert] = alerts(ledger_conn)
    assert (alert["seq"], alert["verified_size"], alert["found_by"]) == (6, 8, "resample")
    assert out.decode().count("\n") >= 2
