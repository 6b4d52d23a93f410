"""Regex detectors for PII and secrets in egress arguments.

Deliberately simple and deterministic (no ML, no network): an after-the-fact audit must give the
same verdict every time it is re-run. Card numbers are Luhn-checked to cut false positives.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

__all__ = [
    "BUILTIN_DETECTORS",
    "PII_DETECTORS",
    "SECRET_DETECTORS",
    "compile_detectors",
    "scan",
    "strings_in",
]

PII_DETECTORS: dict[str, str] = {
    "email": r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
    "phone": r"(?<![\w+])\+?[0-9][0-9 ().-]{7,}[0-9](?!\w)",
    "iban": r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b",
    "card": r"\b(?:[0-9][ -]?){12,18}[0-9]\b",
    "ssn": r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
}
SECRET_DETECTORS: dict[str, str] = {
    "aws_access_key": r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",
    "private_key": r"-----BEGIN (?:[A-Z ]+ )?PRIVATE KEY-----",
    "bearer_token": r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*",
    "github_token": r"\bgh[pousr]_[A-Za-z0-9]{36,}\b",
    "openai_key": r"\bsk-[A-Za-z0-9_-]{20,}\b",
    "password_assignment": r"(?i)\b(?:password|passwd|secret)\s*[:=]\s*\S{6,}",
}
BUILTIN_DETECTORS: frozenset[str] = frozenset(PII_DETECTORS) | frozenset(SECRET_DETECTORS)


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, digit in enumerate(reversed(digits)):
        total += (digit * 2 - 9 if digit > 4 else digit * 2) if i % 2 else digit
    return total % 10 == 0


def compile_detectors(
    names: tuple[str, ...], custom: dict[str, str]
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Compile the named built-ins plus custom regexes, in a stable order."""
    table = {**PII_DETECTORS, **SECRET_DETECTORS}
    pairs = [(n, table[n]) for n in names] + sorted(custom.items())
    return tuple((name, re.compile(pattern)) for name, pattern in pairs)


def strings_in(value: Any) -> Iterator[str]:
    """Every string leaf (and dict key) of a JSON value, depth first, in a stable order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def scan(value: Any, detectors: tuple[tuple[str, re.Pattern[str]], ...]) -> list[str]:
    """Names of detectors that fire anywhere in `value` (each name once, in detector order)."""
    texts = list(strings_in(value))
    found: list[str] = []
    for name, pattern in detectors:
        for text in texts:
            match = pattern.search(text)
            if match and (name != "card" or _luhn(match.group(0))):
                found.append(name)
                break
    return found
