"""Overhead per framework call: the same call instrumented vs uninstrumented, in one run.

Each framework's module in bench/integrations/ measures its own call (a LangGraph node and model
call, an Agents SDK model call, an OTel span, an MCP call, a Temporal activity; Semantic Kernel
runs in its own environment, tests/envs/sk, so it is measured with that env's python) against
the same call with no ledger attached. The ratio instrumented/plain is the figure: both sides run
on the same noisy machine in the same process, minutes apart at most. A framework that is not
installed is reported as skipped, never as zero.

Usage: python bench/bench_integrations.py [--quick] [--json] [--only langgraph,otel]
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.integrations.common import Overhead
from bench.report import Report, parse_args

QUICK = {"size": "quick"}  # each module picks its own smaller sizes for measure(quick=True)


def _modules(only: set[str]) -> list[str]:
    names = [m.name for m in pkgutil.iter_modules([str(Path(__file__).parent / "integrations")])
             if m.name not in {"common", "__init__"}]
    return sorted(n for n in names if (not only or n in only) and _measures(n))


def _measures(name: str) -> bool:
    """Whether a module is a framework's measurement (helpers such as workflow definitions
    live beside them), read without importing it: the framework may not be installed."""
    path = Path(__file__).parent / "integrations" / f"{name}.py"
    return "\ndef measure(" in path.read_text(encoding="utf-8")


def _measure(name: str, quick: bool) -> list[Overhead] | str:
    try:
        module = importlib.import_module(f"bench.integrations.{name}")
        result: list[Overhead] = module.measure(quick)
    except ImportError as e:  # the framework's extra is not installed here
        return f"skipped ({e})"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated module names")
    parser.add_argument("--size", choices=["quick", "full"], default="full",
                        help="each module's call counts (--quick: quick)")
    args = parse_args(parser, QUICK)
    report = Report("integrations")
    print(f"{'call':44} {'plain':>11} {'ledger':>11} {'ratio':>7}")
    for name in _modules({s for s in args.only.split(",") if s}):
        result = _measure(name, args.size == "quick")
        if isinstance(result, str):
            print(f"{name:44} {result}")
            continue
        for o in result:
            print(f"{o.name:44} {o.plain_s * 1e6:9.1f}us {o.instrumented_s * 1e6:9.1f}us "
                  f"{o.instrumented_s / o.plain_s:6.2f}x")
            report.add(f"{o.name}_s", o.instrumented_s, "s", "lower", baseline=o.plain_s)
    report.emit(args)


if __name__ == "__main__":
    main()
