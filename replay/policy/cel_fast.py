"""CEL on cel-python's compiled runner, with the interpreter's answers (replay.policy.cel).

The hooks evaluate `scope: tool_call` CEL rules before every call, in the agent's process:
cel-python's compiled runner (transpiled to Python) is several times faster than its
interpreter. Replay re-evaluates the same expressions after the fact with the interpreter, so
the compiled runner must give the interpreter's answer (True/False/None) on every input, or a
decision recorded live would not re-evaluate to itself. cel-python 0.5's transpiler differs
from its interpreter in ways tests/policy/test_cel_runners.py pins down; this module corrects
them:

- `has(x.f)` transpiles to a Python `bool`, which `!` refuses ("no such overload"), so
  `!has(args.x) || ...` was always an error (every call denied). The transpiled source is
  rewritten to wrap the macro's result in `BoolType` (`_fix_has`).
- Wherever the compiled runner errors (None: the rule fails closed), the interpreter decides
  instead. Errors are the rare path (a missing key, a type mismatch), and the interpreter is
  the reference, so e.g. `has(a.b.c)` with `a.b` null (False in the interpreter, an error in
  the transpiled `.get().get()`) gets the interpreter's False.
- An expression the transpiler cannot build stays on the interpreter.

Its runner passes the activation through a module global, so two threads evaluating at once
could see each other's facts: evaluations are serialised by one lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from functools import cache
from typing import Any

from replay.policy.cel import CelProgram, compile_expression, interpreter, load_celpy

__all__ = ["CompiledCel", "fast_cel"]

# cel-python and its types: set by the first CompiledCel (_load), so importing this module (the
# pre-call check does) costs no celpy when the pack has no CEL rule.
celpy: Any = None
_CT: Any = None
# Phase 2 of cel-python 0.5's transpiler, for the `has()` macro (see module docstring).
_HAS = re.compile(
    r"^(ex_\d+) = lambda activation: "
    r"(not isinstance\(celpy\.evaluation\.result\(activation, ex_\d+_h\), CELEvalError\))$",
    re.MULTILINE)


def _load() -> None:
    global celpy, _CT  # noqa: PLW0603 - the lazily imported module, read on the hot path
    if celpy is None:
        celpy = load_celpy()
        _CT = celpy.celtypes


def _transpiler_parser() -> Any:
    """A private CEL parser building the compiled runner's tree nodes. cel-python keeps one
    parser per process, built with the tree class of the first Environment (the interpreter's,
    replay.policy.cel), and the compiled runner cannot transpile those trees."""
    from celpy.celparser import CELParser

    saved = CELParser.CEL_PARSER
    CELParser.CEL_PARSER = None
    try:
        CELParser(tree_class=celpy.CompiledRunner.tree_node_class)
        return CELParser.CEL_PARSER
    finally:
        CELParser.CEL_PARSER = saved


@cache
def _compiled_runner() -> tuple[Any, Any]:
    """The compiled runner's Environment and parser, built on first use, not at import (their
    Lark parsers cost a pack without CEL most of its start-up); after the interpreter's, whose
    parser cel-python keeps as the process-wide one (_transpiler_parser)."""
    interpreter()
    return celpy.Environment(runner_class=celpy.CompiledRunner), _transpiler_parser()


def _fix_has(runner: Any) -> None:
    """Make the transpiled `has()` yield a CEL bool, as the interpreter's does."""
    tp = runner.tp
    fixed = _HAS.sub(r"\1 = lambda activation: celpy.celtypes.BoolType(\2)", tp.source_text)
    if fixed != tp.source_text:
        tp.source_text = fixed
        tp.executable_code = compile(fixed, "<string>", "exec")


class CompiledCel(CelProgram):
    """The compiled runner, same evaluate() contract and answers as the interpreter's."""

    __slots__ = ("_reference",)
    _LOCK = threading.Lock()

    def __init__(self, text: str) -> None:  # replaces the interpreter's program
        self._reference = compile_expression(text)  # validates; the reference on errors
        _load()
        self.text = text
        env, parser = _compiled_runner()
        self._program = env.program(parser.parse(text))
        _fix_has(self._program)

    def evaluate(self, facts: Mapping[str, Any]) -> bool | None:
        try:
            activation = {name: _to_cel(value) for name, value in facts.items()}
            with self._LOCK:
                result = self._program.evaluate(activation)
        except Exception:
            result = None
        if isinstance(result, _CT.BoolType | bool):
            return bool(result)
        return self._reference.evaluate(facts)  # an error or a non-bool: the reference decides


def _to_cel(value: Any) -> Any:
    """celpy.json_to_cel's conversion without its typing-generic isinstance checks (most of a
    CEL rule's cost here); anything else (dates) goes through json_to_cel itself."""
    kind = type(value)
    if kind is str:
        return _CT.StringType(value)
    if kind is bool:
        return _CT.BoolType(value)
    if kind is int:
        return _CT.IntType(value)
    if kind is float:
        return _CT.DoubleType(value)
    if value is None:
        return None
    if kind is dict:
        return _CT.MapType({_to_cel(k): _to_cel(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        return _CT.ListType([_to_cel(v) for v in value])
    return celpy.json_to_cel(value)


def fast_cel(text: str) -> CelProgram:
    """The compiled form where cel-python can build it, else the interpreter's."""
    try:
        program: CelProgram = CompiledCel(text)
    except Exception:
        return compile_expression(text)
    return program
