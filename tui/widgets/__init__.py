"""Reusable widgets with their own DEFAULT_CSS."""
