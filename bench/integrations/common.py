"""The one figure every framework reports: a call's time with and without the integration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Overhead:
    """Seconds per call for the same framework call, uninstrumented and instrumented."""

    name: str
    plain_s: float
    instrumented_s: float
