"""What every framework benchmark reports: one call, uninstrumented and instrumented."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Overhead:
    name: str
    plain_s: float
    instrumented_s: float
