"""`ledger monitor`: verify continuously, from the newest verified checkpoint to the newest one.

Why: an incremental verify (ledger.verify_incremental) is cheap enough to run at every batch, so
a tamper in NEW entries is found within seconds of being written. A tamper in OLD entries is not
in any new range, so each cycle also re-samples K random entries below the verified size: the
leaf is recomputed from the stored body and proven into the verified root through the stored
tiles (an inclusion proof, RFC 9162), so an edited body, leaf column or tile shows up as soon as
it is sampled. The verified state lives outside the database (ledger.verified_state) and moves
forward each cycle. Wake-ups come from the sequencer's NOTIFY (`ledger_appended`, a hint, never
data), with a polling fallback. On a tamper: one line on stderr, the metric, a signed
`monitor.alert` operator record (ledger.event_monitor) when the monitor's login may write one
(said on stderr when it cannot; the monitor never crashes over it), and exit 1.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg

from ledger.config import Settings
from ledger.merkle import leaf_hash, root_from_inclusion_proof
from ledger.note import Checkpoint, Verifier
from ledger.store.scan import sample_events
from ledger.terminal import printable
from ledger.tiles import TileReader, inclusion_ranges
from ledger.verified_state import VerifiedState
from ledger.verify_incremental import open_pin, record_verified, size_spans, verify_incremental

__all__ = ["Cycle", "MonitorMetrics", "Tamper", "alert_line", "resample", "run_cycle"]


@dataclass(frozen=True)
class Tamper:
    """What a cycle found wrong: full verify's seq/verdict/reason, and how it was found."""

    origin: str
    seq: int | None
    verdict: str
    reason: str
    verified_size: int
    found_by: Literal["incremental", "resample"]


@dataclass(frozen=True)
class Cycle:
    """One cycle: the [from, to] sizes verified per origin, entries re-sampled, any tamper."""

    verified: dict[str, list[int]] = field(default_factory=dict)
    sampled: int = 0
    new_events: int = 0
    tamper: Tamper | None = None
    archived: dict[str, list[int]] = field(default_factory=dict)  # [lo, hi): not re-sampled


def alert_line(t: Tamper) -> str:
    """The one stderr line of a tamper (attacker text escaped); a reason that already starts
    with its verdict (`rewritten: ...`) is not prefixed twice."""
    where = "" if t.seq is None else f" at seq {t.seq}"
    why = t.reason if t.reason.startswith(f"{t.verdict}:") else f"{t.verdict}: {t.reason}"
    return f"monitor: TAMPER in {printable(t.origin)}{where} ({t.found_by}): {printable(why)}"


def resample(
    conn: psycopg.Connection, cp: Checkpoint, k: int, rng: random.Random, floor: int = 0
) -> tuple[int, Tamper | None]:
    """Re-check `k` random entries in [floor, cp.size) against `cp.root`; `floor` is where an
    archived prefix ends (those rows left the database legitimately, as full verify honours)."""
    n = cp.size
    seqs = sorted(rng.sample(range(floor, n), min(k, max(n - floor, 0))))
    if not seqs:
        return 0, None
    stored = {seq: (body, leaf) for seq, body, leaf in sample_events(conn, cp.origin, seqs)}
    reader = TileReader(conn, cp.origin)
    paths = {seq: inclusion_ranges(seq, n) for seq in seqs}
    reader.load([r for ranges in paths.values() for r in ranges])

    def found(seq: int, verdict: str, reason: str) -> tuple[int, Tamper]:
        return len(seqs), Tamper(cp.origin, seq, verdict, reason, n, "resample")

    for seq in seqs:
        row = stored.get(seq)
        if row is None:
            return found(seq, "missing_seq", f"missing seq {seq} below the verified size {n}")
        ours = leaf_hash(row[0])
        if ours != row[1]:
            return found(seq, "leaf_mismatch",
                         f"leaf hash mismatch at seq {seq}: stored bytes were changed")
        try:
            proof = [reader.range_hash(lo, hi) for lo, hi in paths[seq]]
        except LookupError as exc:
            return found(seq, "tiles_mismatch", f"tiles_mismatch: {exc}")
        if root_from_inclusion_proof(ours, seq, n, proof) != cp.root:
            return found(seq, "inclusion_mismatch",
                         f"seq {seq} does not prove into the verified root at size {n}: "
                         "the entry or the tiles were changed")  # fmt: skip
    return len(seqs), None


def _pins(
    conn: psycopg.Connection, state: VerifiedState, verifiers: Sequence[Verifier]
) -> list[Checkpoint] | Tamper:
    """The verified checkpoints kept, opened again with the key ring each log endorses."""
    pins: list[Checkpoint] = []
    for origin, kept in sorted(state.all().items()):
        opened = open_pin(conn, kept.note, verifiers)
        if isinstance(opened, str):
            return Tamper(origin, None, "rewritten", opened, kept.checkpoint.size, "incremental")
        pins.append(opened)
    return pins


def run_cycle(  # noqa: PLR0917 - one cycle's inputs
    conn: psycopg.Connection,
    settings: Settings,
    state: VerifiedState,
    verifiers: Sequence[Verifier],
    sample: int,
    rng: random.Random,
) -> Cycle:
    """Verify every origin from its verified checkpoint, record, then re-sample old entries."""
    pins = _pins(conn, state, verifiers)
    if isinstance(pins, Tamper):
        return Cycle(tamper=pins)
    report = verify_incremental(conn, settings, pins, verifiers=verifiers, every_origin=True)
    if report.status != "ok":
        before = next((p.size for p in pins if p.origin == report.origin), 0)
        return Cycle(dict(report.incremental), tamper=Tamper(
            report.origin or "", report.first_bad_seq, report.verdict or "invalid",
            report.reason or "", before, "incremental"))  # fmt: skip
    record_verified(conn, state, report, verifiers)
    sampled, archived = 0, dict(report.archived)
    for kept in state.all().values():
        if kept.checkpoint.origin not in report.origins:
            continue
        floor = archived.get(kept.checkpoint.origin, [0, 0])[1]
        count, tamper = resample(conn, kept.checkpoint, sample, rng, floor)
        sampled += count
        if tamper is not None:
            return Cycle(dict(report.incremental), sampled, report.events_verified, tamper,
                         archived)  # fmt: skip
    return Cycle(dict(report.incremental), sampled, report.events_verified, archived=archived)


class MonitorMetrics:
    """The monitor's gauges on a registry of its own (contract 4 of issue 20)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Gauge

        self.registry = CollectorRegistry()
        self.size = Gauge("agent_ledger_monitor_verified_size",
                          "Tree size of the newest checkpoint the monitor verified.",
                          ["origin"], registry=self.registry)  # fmt: skip
        self.when = Gauge("agent_ledger_monitor_verified_timestamp_seconds",
                          "Unix time the monitor last verified the log up to that size.",
                          ["origin"], registry=self.registry)  # fmt: skip
        self.tamper = Gauge("agent_ledger_monitor_tamper",
                            "1 once the monitor found a log tampered, else 0.",
                            registry=self.registry)  # fmt: skip
        self.tamper.set(0)

        self.served = False
        self.tampered = False
        self.seen = threading.Event()  # a scrape showing the tamper was fully sent

    def serve(self, host: str, port: int) -> Any:
        """Expose /metrics on host:port (a daemon thread); returns the server.

        A scrape sent while a tamper is flagged sets `seen` once its response is written
        (wsgiref closes the body after writing it), so the process can exit 1 knowing
        Prometheus saw `agent_ledger_monitor_tamper 1` rather than a vanished target."""
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        from prometheus_client import make_wsgi_app

        app, metrics = make_wsgi_app(self.registry), self

        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        class Body:
            def __init__(self, chunks: Any, tampered: bool) -> None:
                self.chunks, self.tampered = chunks, tampered

            def __iter__(self) -> Any:
                return iter(self.chunks)

            def close(self) -> None:
                if self.tampered:
                    metrics.seen.set()

        def wrapped(environ: Any, start_response: Any) -> Any:
            tampered = metrics.tampered
            return Body(app(environ, start_response), tampered)

        server = make_server(host, port, wrapped, handler_class=Quiet)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        self.served = True
        return server

    def observe(self, cycle: Cycle) -> None:
        now = time.time()
        for origin, (_lo, hi) in cycle.verified.items():
            self.size.labels(origin=origin).set(hi)
            self.when.labels(origin=origin).set(now)
        if cycle.tamper is not None:
            self.tamper.set(1)
            self.tampered = True


MONITOR_DOMAIN = "agent-ledger/monitor-alert/v1"
ALERT_GRACE_SECONDS = 60.0
"""After a tamper, how long /metrics stays up waiting for a scrape to carry it."""


def _alert_message(data: Any, origin: str) -> bytes:
    """The bytes a monitor alert's signature covers (ledger.gate_claim.claim_message)."""
    from ledger.gate_claim import claim_message

    return claim_message(MONITOR_DOMAIN, (data.origin, data.verdict), data, origin)


def record_alert(  # noqa: PLR0917 - the alert and who vouches for it
    conn: psycopg.Connection,
    settings: Settings,
    tamper: Tamper,
    signer: Any,
    root: Any,
    recorded_by: str,
) -> str | None:
    """Append the `monitor.alert` of `tamper` to its log; None, or why it could not be."""
    from ledger.db.sqlfiles import query
    from ledger.errors import LedgerError
    from ledger.event_monitor import MonitorAlertData
    from ledger.gates import judge_authority, sign_claim
    from ledger.store.door import append, single_event

    tenant = tamper.origin.rsplit("/", 1)[-1]
    if settings.origin(tenant) != tamper.origin:
        return f"origin {printable(tamper.origin)} is not under {settings.origin_prefix}"
    try:
        row = conn.execute(query("stop_recorder")).fetchone()
        if row is None or not row[1]:
            return (f"role {row[0] if row else '?'} may not record monitor.alert: only the "
                    "ledger owner or a ledger_operator role may")  # fmt: skip
        data = MonitorAlertData(
            origin=tamper.origin, seq=tamper.seq, verdict=tamper.verdict[:512],
            reason=printable(tamper.reason)[:4000], verified_size=tamper.verified_size,
            found_by=tamper.found_by, recorded_by=recorded_by,
        )  # fmt: skip
        digest, reason = judge_authority(conn, tamper.origin, root, signer)
        fields: dict[str, Any] = {"authority": "asserted" if reason else "registry",
                                  "authority_reason": reason, "registry_hash": digest}
        data = (sign_claim(data, tamper.origin, signer, message=_alert_message, **fields)
                if signer is not None else data.model_copy(update=fields))  # fmt: skip
        event = single_event("monitor.alert", data, tenant=tenant,
                             principal={"initiating_user": recorded_by},
                             source={"framework": "python", "integration": "monitor"})
        append(conn, [event], settings)
    except (LedgerError, psycopg.Error, ValueError) as exc:
        return printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    return None


@dataclass(frozen=True)
class MonitorOptions:
    """How `ledger monitor` runs (its CLI options)."""

    interval: float = 5.0
    sample: int = 16
    once: bool = False
    json_out: bool = False
    recorded_by: str = "monitor"
    signer: Any = None
    root: Any = None


def cycle_line(cycle: Cycle, json_out: bool) -> str:
    """What one cycle prints on stdout: a line, or one JSON object."""
    if json_out:
        import orjson

        tamper = None if cycle.tamper is None else cycle.tamper.__dict__
        return orjson.dumps({"verified": cycle.verified, "new_events": cycle.new_events,
                             "sampled": cycle.sampled, "archived": cycle.archived,
                             "tamper": tamper}).decode()  # fmt: skip
    spans = size_spans(cycle.verified) if cycle.verified else ""
    if cycle.tamper is not None and cycle.tamper.found_by == "incremental":
        stop = f"stopped at the tamper in {printable(cycle.tamper.origin)}"
        spans = f"{spans}; {stop}" if spans else stop
    skipped = "".join(f" (archived seq {lo}..{hi - 1} of {o} not sampled)"
                      for o, (lo, hi) in sorted(cycle.archived.items()))  # fmt: skip
    return (f"monitor: verified {cycle.new_events} new events ({spans or 'no log yet'}); "
            f"re-sampled {cycle.sampled} old entries{skipped}")  # fmt: skip


def run_monitor(  # noqa: PLR0917 - the monitor's parts, built by the CLI
    conn: psycopg.Connection,
    settings: Settings,
    state: VerifiedState,
    verifiers: Sequence[Verifier],
    options: MonitorOptions,
    metrics: MonitorMetrics,
    out: Any,
    err: Any,
) -> int:
    """Cycle until a tamper (exit 1) or, with `once`, after one cycle (0). `out`/`err` print
    one line each."""
    from ledger.db.sqlfiles import query

    rng = random.Random()  # noqa: S311 - sampling positions, not secrets
    conn.execute(query("board_listen_appended"))
    while True:
        cycle = run_cycle(conn, settings, state, verifiers, options.sample, rng)
        metrics.observe(cycle)
        out(cycle_line(cycle, options.json_out))
        if cycle.tamper is not None:
            err(alert_line(cycle.tamper))
            why = record_alert(conn, settings, cycle.tamper, options.signer, options.root,
                               options.recorded_by)  # fmt: skip
            if why is not None:
                err(f"monitor: could not record the monitor.alert event: {why}")
            if metrics.served:  # let one scrape carry the tamper before the target vanishes
                metrics.seen.wait(ALERT_GRACE_SECONDS)
            return 1
        if options.once:
            return 0
        for _note in conn.notifies(timeout=options.interval, stop_after=1):
            pass  # a wake-up (or the polling interval): the payload is a hint, never data
