"""The compiled CEL runner (hooks, live) must answer as the interpreter (replay) does.

A decision recorded before a call is re-evaluated after the fact with the interpreter
(replay.policy.enforcement); any input on which the two runners differ is a decision that
does not prove itself, or (as with `!has(args.x) || ...`, an error in cel-python 0.5's
transpiler) a rule that denies every call. Every expression our packs, docs, benches and tests
use, plus one per CEL feature we rely on, is evaluated against fact sets chosen to hit the
edges (missing keys, null, int vs double vs string amounts, empty lists, nested nulls, dates).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import celpy
import pytest

from replay.policy.cel import compile_expression
from replay.policy.cel_fast import CompiledCel, _to_cel, fast_cel

ROOT = Path(__file__).resolve().parents[2]
# The shared fixtures beside the checkout (../shared from main, ../../shared from a worktree).
SHARED = [d for d in (ROOT.parent / "shared/fixtures", ROOT.parents[1] / "shared/fixtures")
          if d.is_dir()]
# Where packs and examples keep CEL (`expr:`, `when:`, `expr=`, `"expr": `): a new one is covered.
def _ours(paths: Iterable[Path]) -> list[Path]:
    """Not the third-party code of the separate test envs (tests/envs/*/.venv)."""
    return [p for p in paths if ".venv" not in p.parts]


SOURCES = [*sorted((ROOT / "exporters").rglob("*.yaml")), *sorted((ROOT / "docs").glob("*.md")),
           *sorted(_ours((ROOT / "tests").rglob("*.py"))),
           *sorted(_ours((ROOT / "tests").rglob("*.yaml"))),
           *sorted((ROOT / "bench").glob("*.py")), ROOT / "README.md",
           *(f for d in SHARED for f in sorted(d.glob("*.yaml")))]
_FOUND = re.compile(r"""\b(?:expr|when)["']?\s*[:=]\s*"""
                    r"""(?:"([^"\n]+)"|'([^'\n]+)'|([^\s{'"][^\n#}]*))""")

CORPUS = [
    # the packs, docs and benches
    "!has(args.x) || args.x == 'y'",
    "!has(args.amount_usd) || args.amount_usd < 5000",
    "call.tool != 'crm.delete_record' || 'admin' in principal.roles",
    "args.amount_usd > 200", "args.amount_usd < 100", "args.amount_usd > 10",
    "args.amount_usd < 300", "double(args.amount_usd) < 1000.0", "double(args.amount) > 500.0",
    "args.currency == 'USD'", "size(args.text) < 20", "totals.tool_calls < 2",
    "totals.cost_usd < 1.0 && principal.initiating_user != ''",
    "principal.user.verified && principal.user.email.endsWith('@example.com')",
    "call.duration_seconds < 2.0",
    # has() and the error-absorbing logic operators
    "has(args.x)", "!has(args.x)", "has(args.x) && args.x == 'y'", "has(args.nested.deep)",
    "!has(args.nested.deep) || args.nested.deep == 1", "has(call.tool) && !has(args.x)",
    "args.x == 'y' || true", "true || args.x == 'y'", "args.x == 'y' && false",
    "false && args.x == 'y'", "args.x == 'y' || args.z == 'w'", "!(args.x == 'y')",
    "1 / 0 == 1 || true", "(1 / 0 == 1) && false", "args.x ? true : false",
    "has(args.x) ? args.x == 'y' : true",
    # in, size, strings, lists, maps, null
    "'admin' in principal.roles", "args.x in ['a', 'y']", "'x' in args", "args.x in args.tags",
    "size(args.tags) > 1", "args.tags.size() == 0", "size(args) > 0", "size(args.x) > 0",
    "args.x.startsWith('a')", "args.x.contains('y')", "args.x.matches('^y')",
    "args.x.endsWith(args.z)", "args.x.matches(args.z)", "args.tags[0] == 'a'",
    "args['x'] == 'y'", "args.nested.deep == 1", "args.tags.exists(t, t == 'a')",
    "args.tags.all(t, t == 'a')", "args.tags.exists_one(t, t == 'a')",
    "args.tags.filter(t, t != 'a').size() == 1", "args.tags.map(t, t + '!')[0] == 'a!'",
    "args.x == null", "args.x != null", "args.nested == null", "type(args.x) == string",
    "string(args.amount_usd) == '250'",
    # numbers: int vs double vs string vs bool
    "args.amount_usd == 100", "args.amount_usd == 250.0", "int(args.amount_usd) > 10",
    "args.amount_usd + 1 > 2", "args.amount_usd % 2 == 0", "-args.amount_usd < 0",
    "args.amount_usd / 2 > 100", "double(args.amount_usd) >= 250.0", "args.amount_usd >= 250",
    "totals.cost_usd < 100", "uint(args.amount_usd) > 1u",
    # timestamps and durations
    "timestamp(args.at) < timestamp('2025-01-01T00:00:00Z')",
    "timestamp(args.at).getFullYear() == 2024", "duration(args.d) > duration('1s')",
    "duration('1s') < duration('2s')",
    # not a boolean
    "args", "args.amount_usd",
]
ATTACK = "\x1b]0;pwned\x07<ATTACKER-TEXT>"
FACTS: list[dict[str, Any]] = [
    {}, {"args": {}}, {"args": {"x": "y"}}, {"args": {"x": "z", "z": "("}},
    {"args": {"x": None}}, {"args": {"x": 1}}, {"args": {"x": ""}},
    *({"args": {"amount_usd": amount}} for amount in (
        49.9, 250, 250.0, "250", "abc", None, 5000.0, True, -3, 2**63 - 1, 2**64, [1], 0.0)),
    {"args": {"tags": ["a", "b"], "x": "a", "text": "short", "nested": {"deep": 1},
              "currency": "USD", "amount": 600, "at": "2024-05-01T12:00:00Z", "d": "90s"}},
    {"args": {"tags": [], "nested": {}, "at": "not a date", "d": "forever"}},
    {"args": {"tags": ("a",), "nested": None, "text": None, "at": 5}},
    {"args": {"tags": ["a", 1, None], "nested": {"deep": "1"}, "x": ATTACK}},
    {"args": {"text": ATTACK * 3, "x": ATTACK}},
    # what a Python tool may be called with, beyond JSON
    {"args": {"amount_usd": Decimal("250.5"), "x": b"y", 1: "one", "tags": {"a"}}},
    {"args": {"at": datetime(2024, 5, 1, tzinfo=UTC), "d": timedelta(seconds=90), "x": object()}},
    {"args": {"amount_usd": float("nan"), "x": "y\x00z"}}, {"args": {"amount_usd": float("inf")}},
    {"call": {"tool": "crm.delete_record", "duration_seconds": None},
     "principal": {"roles": ["admin"], "user": None, "initiating_user": "a"},
     "totals": {"tool_calls": 1, "cost_usd": 0.5}},
    {"call": {"tool": "crm.lookup", "duration_seconds": 1.5},
     "principal": {"roles": [], "initiating_user": "",
                   "user": {"verified": True, "email": "a@example.com"}},
     "totals": {"tool_calls": 3, "cost_usd": 150.0}},
    {"call": {"tool": "crm.delete_record"}, "principal": {"roles": None, "user": {}},
     "totals": {"tool_calls": "1"}},
]


def _found() -> list[str]:
    out = []
    for path in SOURCES:
        if path.is_file():
            for m in _FOUND.finditer(path.read_text()):
                text = next(g for g in m.groups() if g).strip()
                if "{" not in text and "\\" not in text:  # skip f-string templates
                    out.append(text)
    return out


def _corpus() -> list[str]:
    seen: dict[str, None] = {}
    for text in CORPUS + _found():
        try:
            compile_expression(text)
        except ValueError:
            continue  # not CEL (a doc's prose, a deliberately invalid example)
        seen[text] = None
    return list(seen)


def test_the_corpus_reads_the_packs() -> None:
    found = set(_found())
    assert "size(args.text) < 20" in found  # tests/hooks
    assert {"double(args.amount_usd) < 1000.0", "args.currency == 'USD'"} <= found  # docs


def _raw(program: CompiledCel, facts: dict[str, Any]) -> bool | None:
    """The compiled runner's own answer, without the fallback to the interpreter."""
    try:
        got = program._program.evaluate({k: _to_cel(v) for k, v in facts.items()})
    except Exception:
        return None
    return bool(got) if isinstance(got, bool | celpy.celtypes.BoolType) else None


def test_compiled_and_interpreted_agree_on_every_expression_and_fact_set() -> None:
    """Same answers everywhere; and the compiled runner gives them itself (the fallback to the
    interpreter would hide a fast path gone slow) except on the one known transpiler gap:
    `has()` through a null map (`.get()` on None), where the interpreter says False."""
    differ, fallbacks = [], []
    for text in _corpus():
        reference, fast = compile_expression(text), fast_cel(text)
        assert isinstance(fast, CompiledCel), text
        for facts in FACTS:
            want, got = reference.evaluate(facts), fast.evaluate(facts)
            if got is not want:
                differ.append((text, facts, want, got))
            if _raw(fast, facts) is not want:
                fallbacks.append((text, facts.get("args", {}).get("nested", "absent")))
    assert differ == []
    assert {nested for _, nested in fallbacks} == {None}
    assert {text for text, _ in fallbacks} == {
        "has(args.nested.deep)", "!has(args.nested.deep) || args.nested.deep == 1"}


@pytest.mark.parametrize(("text", "facts", "want"), [
    ("!has(args.x) || args.x == 'y'", {"args": {}}, True),  # the reported bug
    ("!has(args.x) || args.x == 'y'", {"args": {"x": "n"}}, False),
    ("!has(args.amount_usd) || args.amount_usd < 5000", {"args": {"amount_usd": 49.9}}, True),
    ("has(args.nested.deep)", {"args": {"nested": None}}, False),
    ("args.x == 'y' || true", {"args": {}}, True),
    ("args.x == 'y' && false", {"args": {}}, False),
    ("args.amount_usd > 200", {"args": {"amount_usd": "250"}}, None),  # no str > int
    ("args.amount_usd > 200", {"args": {"amount_usd": 250.5}}, True),  # double > int
    ("args.amount_usd > 200", {"args": {"amount_usd": 2**64}}, None),
    ("args.x.matches('^y')", {"args": {"x": "yes"}}, True),  # not an int64: no raise
])
def test_the_compiled_runner_decides_the_common_case_itself(
    text: str, facts: dict[str, Any], want: bool | None,
) -> None:
    """The answers, and that a boolean comes from the compiled runner (not the fallback)
    wherever cel-python's transpiler can give it: the fast path stays the common one."""
    program = fast_cel(text)
    assert isinstance(program, CompiledCel)
    assert program.evaluate(facts) is want
    assert compile_expression(text).evaluate(facts) is want
    if "nested" not in text:
        assert _raw(program, facts) is want


def test_concurrent_evaluations_each_see_their_own_facts() -> None:
    """The compiled runner passes facts through a module global; the lock keeps one thread's
    facts from deciding another's rule, also on the `has()` and fallback paths."""
    programs = [fast_cel("!has(args.amount_usd) || args.amount_usd < 100"),
                fast_cel("has(args.nested.deep)")]
    cases = [({"args": {"amount_usd": 5}}, [True, False]), ({"args": {"amount_usd": 500}},
             [False, False]), ({"args": {}}, [True, False]),
             ({"args": {"nested": {"deep": 1}}}, [True, True])]
    wrong: list[tuple[int, list[bool | None]]] = []

    def hammer(i: int) -> None:
        facts, want = cases[i]
        for _ in range(300):
            got = [p.evaluate(facts) for p in programs]
            if got != want:
                wrong.append((i, got))

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(len(cases))]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def test_attacker_text_in_facts_never_reaches_the_logs(capfd: pytest.CaptureFixture[str]) -> None:
    """cel-python logs activations at debug level and some failed calls with their arguments
    at error level, and re2 writes an invalid pattern to stderr: with the host's logging wide
    open, none of it carries the facts (a rule's pattern can come from the args)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    root = logging.getLogger()
    keep, level = Keep(logging.DEBUG), root.level
    root.addHandler(keep)
    root.setLevel(logging.DEBUG)
    try:
        for text in ("args.x.matches(args.x)", "args.x.matches('(' + args.x)",
                     "int(args.x) > 1", "args.x + 1 > 2",
                     "timestamp(args.x) < timestamp('2025-01-01T00:00:00Z')",
                     "!has(args.x) || args.x == 'y'", "args.x.endsWith('a') && args.y > 1"):
            facts = {"args": {"x": ATTACK, "y": [ATTACK]}}
            for program in (compile_expression(text), fast_cel(text), CompiledCel(text)):
                program.evaluate(facts)
    finally:
        root.removeHandler(keep)
        root.setLevel(level)
    leaked = [r.name for r in records if "ATTACKER" in r.getMessage()]
    assert leaked == []
    out, err = capfd.readouterr()
    assert "ATTACKER" not in out + err
    assert [r for r in records if r.name.startswith("celpy")] == []
