"""CEL predicates via cel-python (`celpy`): compiled once per expression, never re-parsed.

CEL is safe to load from a policy file (no side effects, always terminates). Expressions are
cached by their text, so a pack compiled once serves every run it checks. Evaluation errors
(a missing key, a type mismatch) are reported as `None`: the caller turns that into the rule's
`on_missing` outcome, because a predicate that could not be decided is never a pass.

cel-python's loggers are silenced (every `celpy.*` logger, through their parent): at debug
level they print each activation, and at error level some failed calls with their arguments,
i.e. the facts, which carry attacker-chosen tool arguments, into the host's logs. Likewise
`matches()` runs re2 with its error log off: re2 writes an invalid pattern (which a rule may
take from the facts, `args.x.matches(args.y)`) raw to the process's stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import cache, lru_cache, wraps
from typing import Any

__all__ = ["CelProgram", "check_expression", "compile_expression", "interpreter", "load_celpy"]


@cache
def load_celpy() -> Any:
    """cel-python, quietened (see above), imported with the first expression compiled rather
    than with this module: a pack without CEL rules (and `ledger check` on it) never pays for
    celpy and its Lark grammar (issue 18: read commands within 0.5 s)."""
    import celpy
    import re2  # type: ignore[import-untyped]

    logging.getLogger("celpy").setLevel(logging.CRITICAL)
    quiet = re2.Options()
    quiet.log_errors = False

    @wraps(celpy.evaluation.function_matches)  # the transpiler names it by __module__.__name__
    def quiet_matches(text: str, pattern: str) -> Any:
        """celpy.evaluation.function_matches, same answers, without re2's stderr log."""
        try:
            found = re2.search(pattern, text, quiet)
        except re2.error as exc:
            return celpy.evaluation.CELEvalError("match error", exc.__class__, exc.args)
        return celpy.celtypes.BoolType(found is not None)

    # Both runners look it up here: the interpreter in base_functions, the transpiled code by
    # name.
    celpy.evaluation.function_matches = quiet_matches
    celpy.evaluation.base_functions["matches"] = quiet_matches
    return celpy


@cache
def interpreter() -> Any:
    """The interpreter's Environment, built on first compile rather than at import: building
    its Lark parser is most of a `ledger check` start-up when the pack has no CEL rule."""
    return load_celpy().Environment()


class CelProgram:
    """A compiled CEL expression evaluated against plain JSON-like Python values."""

    __slots__ = ("_program", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        try:
            env = interpreter()
            self._program = env.program(env.compile(text))
        except Exception as exc:  # celpy raises its own parse error types
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ValueError(f"invalid CEL expression: {first}") from None

    def evaluate(self, facts: Mapping[str, Any]) -> bool | None:
        """True/False, or None when the expression errors or does not yield a boolean."""
        try:  # a fact CEL cannot hold (an int beyond 64 bits) is undecidable too
            celpy = load_celpy()
            activation = {name: celpy.json_to_cel(value) for name, value in facts.items()}
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
