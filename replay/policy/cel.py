"""CEL predicates via cel-python (`celpy`): compiled once per expression, never re-parsed.

CEL is safe to load from a policy file (no side effects, always terminates). Expressions are
cached by their text, so a pack compiled once serves every run it checks. Evaluation errors
(a missing key, a type mismatch) are reported as `None`: the caller turns that into the rule's
`on_missing` outcome, because a predicate that could not be decided is never a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import celpy

__all__ = ["CelProgram", "check_expression", "compile_expression"]

_ENV = celpy.Environment()
_to_cel = celpy.json_to_cel  # type: ignore[attr-defined]


class CelProgram:
    """A compiled CEL expression evaluated against plain JSON-like Python values."""

    __slots__ = ("_program", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            self._program = _ENV.program(_ENV.compile(text))
        except Exception as exc:  # celpy raises its own parse error types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"invalid CEL expression: {first}") from None

    def evaluate(self, facts: Mapping[str, Any]) -> bool | None:
        """True/False, or None when the expression errors or does not yield a boolean."""
        activation = {name: _to_cel(value) for name, value in facts.items()}
        try:
            result = self._program.evaluate(activation)
        except Exception:  # CELEvalError and friends: undecidable, not a pass
            return None
        if isinstance(result, celpy.celtypes.BoolType | bool):
            return bool(result)
        return None


@lru_cache(maxsize=1024)
def compile_expression(text: str) -> CelProgram:
    """Compile (and cache) one expression; raises ValueError with a one-line reason."""
    return CelProgram(text)


def check_expression(text: str) -> None:
    """Validate an expression at pack load time (the compiled form is cached for later)."""
    compile_expression(text)
