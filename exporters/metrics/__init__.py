"""Live metrics: the typed snapshot both the Prometheus collector and the OTLP push read."""
