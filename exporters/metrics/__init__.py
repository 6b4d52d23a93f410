"""Live metrics of the ledger (issue 19): `ledger serve --metrics-addr HOST:PORT` serves
Prometheus `/metrics`, and the OTLP push sends the same samples (exporters/metrics/snapshot.py).

Counters come from incremental state (exporters/metrics/state.py: seeded by SQL aggregates at
start, then fed by what the sequencer announces), never from a scan per scrape."""
