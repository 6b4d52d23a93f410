"""Import throughput (records/s) and peak memory of `ledger import`, against plain ingest.

Langfuse: a blob-export JSONL of N generated observations (traces of 1 agent span, 3 model
calls, 2 tool calls, interleaved across traces as real exports are) is imported with
`ledger import langfuse`. Baseline, same run: `ledger ingest` of the very events that import
writes (pre-built, so the ratio is the cost of reading, regrouping and mapping the export).
Peak RSS is measured for two input sizes: flat memory means the large/small ratio stays near 1.
Phoenix (when tests/envs/phoenix is built): a local `phoenix serve` fed by the OpenInference
sender, then `ledger import phoenix`, in spans/s.
Usage: python bench/bench_import.py [--observations N] [--phoenix-runs N] [--quick] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import discard, fresh_settings
from bench.report import Report, parse_args
from ledger.config import Settings

ROOT = Path(__file__).resolve().parents[1]
LEDGER = ROOT / ".venv" / "bin" / "ledger"
PHOENIX_ENV = ROOT / "tests" / "envs" / "phoenix"
QUICK = {"observations": 10_000, "phoenix_runs": 250}
PER_TRACE = 6


def _observation(trace: int, n: int) -> dict[str, object]:
    start = f"2026-11-02T09:{trace // 3600 % 60:02d}:{trace % 60:02d}.{n:03d}000Z"
    end = f"2026-11-02T09:{trace // 3600 % 60:02d}:{trace % 60:02d}.{n:03d}500Z"
    kind = "AGENT" if n == 0 else ("TOOL" if n in (2, 4) else "GENERATION")
    rec: dict[str, object] = {
        "id": f"o-{trace}-{n}", "traceId": f"t-{trace}", "projectId": "bench", "type": kind,
        "name": "refund" if kind == "TOOL" else ("agent" if n == 0 else "chat"),
        "startTime": start, "endTime": end, "parentObservationId": None if n == 0
        else f"o-{trace}-0", "level": "DEFAULT", "userId": f"user-{trace % 50}",
        "input": {"order": f"A{trace}", "amount": n} if kind == "TOOL" else f"question {trace}",
        "output": {"ok": True} if kind == "TOOL" else "answer " * 20}
    if kind == "GENERATION":
        rec.update(model="gpt-4o-mini", usageDetails={"input": 120, "output": 30},
                   totalCost=0.00036)
    return rec


def write_export(path: Path, observations: int) -> None:
    """Observations of consecutive traces, shuffled within windows of 64 traces (exports are
    not grouped by trace), streamed to disk."""
    traces = observations // PER_TRACE
    rng = random.Random(7)
    with path.open("w") as out:
        for base in range(0, traces, 64):
            window = [_observation(t, n) for t in range(base, min(base + 64, traces))
                      for n in range(PER_TRACE)]
            rng.shuffle(window)
            out.writelines(json.dumps(r) + "\n" for r in window)


def _measured(cmd: list[str], settings: Settings) -> tuple[float, float, str]:
    """(seconds, peak RSS MiB, stdout) of one command in a fresh wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "p = subprocess.run(sys.argv[1:], capture_output=True); "
               "d = time.perf_counter() - t; "
               "print(d, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.returncode); "
               "sys.stderr.write(p.stderr.decode()[-800:]); sys.stdout.write(p.stdout.decode())")
    env = {**os.environ, "LEDGER_DSN": settings.dsn or "", "LEDGER_HOME": str(settings.home)}
    done = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, env=env,
                          check=False, text=True)
    first, _, rest = done.stdout.partition("\n")
    seconds, rss_kib, code = first.split()
    if code != "0":
        raise SystemExit(f"{cmd[1:3]} exited {code}: {done.stderr.strip()[-400:]}")
    return float(seconds), int(rss_kib) / 1024, rest


def _built_events(export: Path, out: Path) -> int:
    """The events `ledger import langfuse` writes for `export`, as JSON Lines (the baseline)."""
    from ledger.importers.build import build_run
    from ledger.importers.langfuse import read_langfuse
    from ledger.importers.report import ImportReport
    from ledger.importers.staging import Staging

    count = 0
    with Staging() as staging, out.open("wb") as sink:
        read_langfuse(export, staging, ImportReport("bench"))
        for meta, spans in staging.traces():
            for _, body in build_run(meta, spans).lines:
                sink.write(body + b"\n")
                count += 1
    return count


def langfuse(report: Report, observations: int, tmp: Path) -> None:
    peaks = {}
    for size in (observations // 10, observations):
        export, events = tmp / f"export-{size}.jsonl", tmp / f"events-{size}.jsonl"
        write_export(export, size)
        n_events = _built_events(export, events)
        settings = fresh_settings("import")
        took, rss, _ = _measured([str(LEDGER), "import", "langfuse", str(export)], settings)
        discard(settings)
        settings = fresh_settings("ingest")
        base_took, base_rss, _ = _measured([str(LEDGER), "ingest", str(events)], settings)
        discard(settings)
        peaks[size] = (rss, base_rss)
        print(f"langfuse {size} observations ({n_events} events): import {size / took:,.0f} "
              f"obs/s, {n_events / took:,.0f} events/s; ingest of the same events "
              f"{n_events / base_took:,.0f} events/s (ratio {base_took / took:.2f}); peak RSS "
              f"import {rss:.0f} MiB, ingest {base_rss:.0f} MiB")
        report.add(f"langfuse_import_{size}_obs_per_s", size / took, "obs/s")
        report.add(f"langfuse_import_{size}_events_per_s", n_events / took, "events/s",
                   baseline=n_events / base_took)
    small, large = sorted(peaks)
    growth = peaks[large][0] / peaks[small][0]
    base_growth = peaks[large][1] / peaks[small][1]
    print(f"peak RSS growth for {large // small}x the input: import {growth:.2f}x, "
          f"ingest {base_growth:.2f}x (flat memory: near 1)")
    report.add("langfuse_import_rss_growth", growth, "x", better="lower", baseline=base_growth)


def phoenix(report: Report, runs: int, tmp: Path) -> None:
    phoenix_bin = PHOENIX_ENV / ".venv" / "bin" / "phoenix"
    if not phoenix_bin.exists():
        print("phoenix: tests/envs/phoenix is not built (make tests/envs/phoenix/.venv/.synced)")
        return
    import socket
    import urllib.request

    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    env = {**os.environ, "PHOENIX_WORKING_DIR": str(tmp / "phoenix"), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(ports[0]), "PHOENIX_GRPC_PORT": str(ports[1]),
           "PHOENIX_TELEMETRY_ENABLED": "false"}
    url = f"http://127.0.0.1:{ports[0]}"
    proc = subprocess.Popen([str(phoenix_bin), "serve"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("phoenix serve did not become healthy") from None
                time.sleep(0.5)
        subprocess.run([str(PHOENIX_ENV / ".venv" / "bin" / "python"),
                        str(PHOENIX_ENV / "send_traces.py"), f"{url}/v1/traces", "bench",
                        str(runs)], check=True, capture_output=True)
        spans = (runs + 2) * 4
        settings = fresh_settings("phoenix")
        took, rss, why = -1.0, 0.0, "no attempt"
        for _ in range(120):  # Phoenix inserts in the background: wait until all are stored
            try:
                took, rss, _ = _measured([str(LEDGER), "import", "phoenix", "--url", url,
                                          "--project", "bench"], settings)
                break
            except SystemExit as exc:
                why = str(exc)
            time.sleep(1)
        discard(settings)
        if took <= 0:  # said, never reported as a figure
            print(f"phoenix: no import succeeded: {why}")
            return
        print(f"phoenix {spans} spans: import {spans / took:,.0f} spans/s, peak RSS {rss:.0f} MiB")
        report.add("phoenix_import_spans_per_s", spans / took, "spans/s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--observations", type=int, default=100_000)
    parser.add_argument("--phoenix-runs", type=int, default=1000)
    args = parse_args(parser, QUICK)
    report = Report("import")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-import-") as tmp:
        langfuse(report, args.observations, Path(tmp))
        phoenix(report, args.phoenix_runs, Path(tmp))
    report.emit(args)


if __name__ == "__main__":
    main()
