"""Release gate (issue 19). Placeholder package file from the slo slice; gatesuite owns it."""
