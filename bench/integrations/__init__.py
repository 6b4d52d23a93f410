"""Per-framework overhead measurements, one module each, run by bench/bench_integrations.py."""
