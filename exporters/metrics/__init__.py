"""Live metrics of the ledger (issue 19): `ledger serve --metrics-addr HOST:PORT` serves
Prometheus `/metrics`, and `--otlp-endpoint` pushes the same samples (snapshot.py), both read
from one source per process (source.py: one follower of the log, one refresher of the
database gauges; a scrape or a push reads memory only).

Counters come from incremental state (state.py: seeded by SQL aggregates in the background at
start, then fed by what the sequencer announces), never from a scan per scrape."""
