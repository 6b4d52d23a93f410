"""SLO objectives (YAML) and their error budgets: remaining over the window, burn rates.

Why error budgets and two burn windows: a target of 0.95 task completion over 30 days allows
5 % failed runs; how fast that allowance is being spent says whether to page now. Burn rate =
(bad fraction in a window) / (1 - target); 1.0 spends the budget exactly over the objective's
window. The multi-window alert of the SRE workbook pages when both the 1 h and the 5 min burn
exceed 14.4 (2 % of a 30-day budget in one hour), so a short blip does not page and a page
stops soon after the cause does. Budgets exist for the ratio SLIs with `op: ">="`; the others
(cost, latency, time to stop) are met or not, with no budget.

File shape (errors are one line `FILE:LINE: ...`, exit 2):

    objectives:
      - {sli: task_completion, agent: sales, target: 0.95, window: 30d, op: ">="}
    costs: {human_review_usd_per_hour: 60}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

from ledger.errors import InputError
from ledger.terminal import printable
from ledger.when import parse_duration
from replay.slo.model import RATIOS, SLI_NAMES, Sli

__all__ = ["BURN_WINDOWS", "PAGE_BURN", "Objective", "SloFile", "budget", "burn_rate",
           "load_objectives", "met", "parse_objectives"]

Op = Literal[">=", "<="]
#: The short windows of the multi-window burn alert (SRE workbook, fast burn).
BURN_WINDOWS = (("1h", timedelta(hours=1)), ("5m", timedelta(minutes=5)))
PAGE_BURN = 14.4
_KEYS = {"sli", "agent", "target", "window", "op"}


@dataclass(frozen=True, slots=True)
class Objective:
    """One objective: `sli` of `agent` (None: every agent) `op` `target` over `window`."""

    sli: str
    target: float
    window: timedelta
    window_text: str
    op: Op = ">="
    agent: str | None = None
    line: int = 0

    @property
    def has_budget(self) -> bool:
        return self.sli in RATIOS and self.op == ">="


@dataclass(frozen=True, slots=True)
class SloFile:
    """A parsed objectives file."""

    objectives: tuple[Objective, ...]
    review_usd_per_hour: Decimal | None


class _Bad(InputError):
    """A located problem in the objectives file."""


def load_objectives(path: Path) -> SloFile:
    """Parse and check `path` (`-`: stdin); InputError `FILE:LINE: ...` (exit 2) at the first
    problem."""
    import sys

    try:
        if str(path) == "-":
            return parse_objectives(sys.stdin.read(), "<stdin>")
        return parse_objectives(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        raise _Bad(f"{path}: cannot read: {exc}") from None


def parse_objectives(text: str, name: str) -> SloFile:
    """The objectives in `text` (named `name` in errors)."""
    import yaml

    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise _Bad(f"{name}:{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise _Bad(f"{name}:1: expected a mapping with `objectives:`")
    top = _mapping(root, name, {"objectives", "costs"})
    objectives = top.get("objectives")
    if objectives is None or not isinstance(objectives[1], yaml.SequenceNode):
        where = objectives[0] if objectives else root.start_mark.line + 1
        raise _Bad(f"{name}:{where}: objectives: expected a list of objectives")
    found = tuple(_objective(node, name) for node in objectives[1].value)
    rate = None
    if "costs" in top:
        line, node = top["costs"]
        costs = _mapping(node, name, {"human_review_usd_per_hour"}, line)
        if "human_review_usd_per_hour" in costs:
            rate = _decimal(*costs["human_review_usd_per_hour"], name,
                            "costs.human_review_usd_per_hour")
    return SloFile(found, rate)


def _mapping(node: Any, file: str, keys: set[str], line: int | None = None
             ) -> dict[str, tuple[int, Any]]:
    """{key: (line, value node)} of a mapping node; unknown or duplicate keys refused."""
    import yaml

    at = line or node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        raise _Bad(f"{file}:{at}: expected a mapping")
    out: dict[str, tuple[int, Any]] = {}
    for key_node, value in node.value:
        key, kline = str(key_node.value), key_node.start_mark.line + 1
        if key not in keys:
            raise _Bad(f"{file}:{kline}: {printable(key)}: unknown key "
                       f"(one of: {', '.join(sorted(keys))})")
        if key in out:
            raise _Bad(f"{file}:{kline}: {printable(key)}: duplicate key")
        out[key] = (kline, value)
    return out


def _scalar(line: int, node: Any, file: str, key: str) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode) or node.value == "":
        raise _Bad(f"{file}:{line}: {key}: expected a value")
    return str(node.value)


def _decimal(line: int, node: Any, file: str, key: str) -> Decimal:
    text = _scalar(line, node, file, key)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Bad(f"{file}:{line}: {key}: not a number: {printable(text)!r}") from None
    if not value.is_finite() or value < 0:
        raise _Bad(f"{file}:{line}: {key}: must be a finite number >= 0")
    return value


def _objective(node: Any, file: str) -> Objective:
    fields = _mapping(node, file, _KEYS)
    line = node.start_mark.line + 1
    for need in ("sli", "target", "window"):
        if need not in fields:
            raise _Bad(f"{file}:{line}: objective: missing key {need}")
    sli = _scalar(*fields["sli"], file, "sli")
    if sli not in SLI_NAMES:
        raise _Bad(f"{file}:{fields['sli'][0]}: sli: unknown SLI {printable(sli)!r} "
                   f"(one of: {', '.join(SLI_NAMES)})")
    target = float(_decimal(*fields["target"], file, "target"))
    if sli in RATIOS and target > 1:
        raise _Bad(f"{file}:{fields['target'][0]}: target: {sli} is a ratio (0..1)")
    window_text = _scalar(*fields["window"], file, "window")
    try:
        window = parse_duration(window_text, "window")
    except InputError as exc:
        raise _Bad(f"{file}:{fields['window'][0]}: {exc}") from None
    op = _scalar(*fields["op"], file, "op") if "op" in fields else ">="
    if op not in (">=", "<="):
        raise _Bad(f"{file}:{fields['op'][0]}: op: expected \">=\" or \"<=\"")
    agent = _scalar(*fields["agent"], file, "agent") if "agent" in fields else None
    return Objective(sli, target, window, window_text, op, agent, line)  # type: ignore[arg-type]


def met(objective: Objective, sli: Sli) -> bool | None:
    """Whether the SLI meets the objective (None: unknown, never a pass)."""
    if sli.value is None:
        return None
    return sli.value >= objective.target if objective.op == ">=" else sli.value <= objective.target


def burn_rate(objective: Objective, sli: Sli) -> float | None:
    """(bad fraction) / (1 - target) for a budgeted objective; None without a budget or data."""
    if not objective.has_budget or sli.value is None:
        return None
    allowed = 1.0 - objective.target
    bad = 1.0 - sli.value
    if allowed <= 0:
        return 0.0 if bad <= 0 else float(PAGE_BURN * 1000)
    return bad / allowed


def budget(objective: Objective, sli: Sli) -> float | None:
    """Error budget remaining over the window: 1 - bad / allowed (negative: overspent)."""
    if not objective.has_budget or sli.value is None or not sli.denominator:
        return None
    allowed = (1.0 - objective.target) * sli.denominator
    bad = float(sli.denominator) - float(sli.numerator or 0)
    if allowed <= 0:
        return 1.0 if bad <= 0 else 0.0
    return 1.0 - bad / allowed
