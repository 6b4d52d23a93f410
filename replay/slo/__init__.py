"""Behaviour SLIs, SLO objectives and canary comparison (issue 19)."""
