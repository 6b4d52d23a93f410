"""Behaviour SLOs (issue 19; the slo slice's package — this is the metrics slice's placeholder)."""
