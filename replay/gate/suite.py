"""A release-gate suite: golden and adversarial tasks, their expectations and budgets (issue 19).

Why a versioned YAML file with a content hash: a gate result says "this prompt/model passed
*this* suite", so the suite it judged must be named exactly. `suite_hash` is the SHA-256 of the
RFC 8785 canonical JSON of the validated, normalised suite (defaults filled in, a bare
expectation string turned into `{name, cel}`, amounts as plain decimals), so two files that
mean the same suite hash the same whatever their key order, quoting or comments. Every CEL
expression is compiled when the file is loaded: a typo is `error: SUITE:LINE: ...` (exit 2)
before any run is read, never an "undecidable" attempt later. Errors name the file and the line
of the offending key, because people edit these by hand.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger.canonical import content_hash
from ledger.errors import InputError
from replay.policy.cel import check_expression

__all__ = [
    "Budget",
    "Expectation",
    "Suite",
    "SuiteAgent",
    "SuiteError",
    "Task",
    "load_suite",
    "load_suite_text",
]

TASK_ID = r"^[a-z0-9][a-z0-9._-]*$"
_ENTRYPOINT = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*$"
Name = Annotated[str, Field(min_length=1, max_length=512)]


class SuiteError(InputError, ValueError):
    """A suite file that cannot be loaded; the message names file and line (exit 2)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _plain_decimal(value: Any, what: str) -> str:
    """`0.5`, `"0.50"` and `0.500` -> "0.5": the same amount hashes the same."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"{what} must be a decimal number")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} must be a decimal number, not {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a finite number >= 0")
    text = format(amount.normalize(), "f")
    return text if text != "-0" else "0"


class Expectation(_Model):
    """One CEL predicate over `run` and `input`; it must evaluate to true."""

    name: Name
    cel: Annotated[str, Field(min_length=1, max_length=8000)]

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, value: Any) -> Any:
        """A bare string is an expression; without a name the expression is its name."""
        if isinstance(value, str):
            return {"name": value, "cel": value}
        if isinstance(value, dict) and value.get("name") is None and "cel" in value:
            return {**value, "name": value["cel"]}
        return value

    @field_validator("cel")
    @classmethod
    def _compiles(cls, value: str) -> str:
        check_expression(value)
        return value


class Budget(_Model):
    """Per-attempt limits; None: not limited."""

    max_usd: str | None = None
    max_tokens: Annotated[int, Field(ge=0, strict=True)] | None = None
    max_seconds: Annotated[float, Field(ge=0)] | None = None
    max_tool_calls: Annotated[int, Field(ge=0, strict=True)] | None = None

    @field_validator("max_usd", mode="before")
    @classmethod
    def _usd(cls, value: Any) -> Any:
        return None if value is None else _plain_decimal(value, "max_usd")


class Task(_Model):
    """One golden or adversarial case: its input, what must hold, and its budget."""

    id: Annotated[str, Field(pattern=TASK_ID, max_length=200)]
    input: JsonValue = None
    repeats: Annotated[int, Field(ge=1, le=1000, strict=True)]
    adversarial: bool = False
    expect: tuple[Expectation, ...] = ()
    budget: Budget = Budget()
    allow_rules: tuple[Name, ...] = ()


class SuiteAgent(_Model):
    """The agent under test: the name its runs are recorded under and how to call it."""

    name: Name
    entrypoint: Annotated[str, Field(pattern=_ENTRYPOINT)] | None = None
    params: dict[str, JsonValue] = {}


class Suite(_Model):
    """A whole suite (contract 2 of issue 19)."""

    suite: Annotated[str, Field(pattern=TASK_ID, max_length=200)]  # like task ids: printed
    version: Annotated[str, Field(min_length=1, max_length=200)]
    agent: SuiteAgent
    repeats: Annotated[int, Field(ge=1, le=1000, strict=True)] = 5
    min_repeats: Annotated[int, Field(ge=1, le=1000, strict=True)] = 5
    alpha: Annotated[float, Field(gt=0, lt=1)] = 0.05
    policy: Literal["must_pass", "ignore"] = "must_pass"
    tasks: Annotated[tuple[Task, ...], Field(min_length=1)]

    @model_validator(mode="before")
    @classmethod
    def _task_repeats(cls, value: Any) -> Any:
        """A task without `repeats` takes the suite's (normalised, so both spellings hash the
        same); `version: 3` is the string "3"."""
        if not isinstance(value, dict):
            return value
        out = dict(value)
        if isinstance(out.get("version"), int | float) and not isinstance(out["version"], bool):
            out["version"] = str(out["version"])
        default = out.get("repeats", 5)
        tasks = out.get("tasks")
        if isinstance(tasks, list) and isinstance(default, int):
            out["tasks"] = [
                {**t, "repeats": default} if isinstance(t, dict) and t.get("repeats") is None
                else t
                for t in tasks
            ]
        return out

    @model_validator(mode="after")
    def _unique(self) -> Suite:
        seen: set[str] = set()
        for task in self.tasks:
            if task.id in seen:
                raise ValueError(f"task id {task.id!r} is used twice")
            seen.add(task.id)
        return self

    @cached_property
    def suite_hash(self) -> str:
        """SHA-256 hex of the canonical JSON of the normalised suite."""
        return content_hash(self.model_dump(mode="json"))

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)


# ----------------------------------------------------------------------------- loading
def _node_line(root: yaml.Node, loc: tuple[int | str, ...]) -> int:
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                break
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                and part < len(node.value):
            node = node.value[part]
        else:
            break
    return int(node.start_mark.line) + 1


def _duplicate_key(node: yaml.Node) -> tuple[int, str] | None:
    """(line, key) of the first key given twice in any mapping (YAML would keep the last)."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(getattr(key, "value", ""))
            if name in seen:
                return int(key.start_mark.line) + 1, name
            seen.add(name)
            found = _duplicate_key(value)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found = _duplicate_key(item)
            if found:
                return found
    return None


def _task_id_line(node: yaml.Node, task_id: str) -> int:
    tasks = next((v for k, v in getattr(node, "value", []) if getattr(k, "value", None) ==
                  "tasks"), None)
    lines = [
        int(v.start_mark.line) + 1
        for item in getattr(tasks, "value", [])
        for k, v in getattr(item, "value", [])
        if getattr(k, "value", None) == "id" and getattr(v, "value", None) == task_id
    ]
    return lines[-1] if lines else 1


_VALUE_ERROR = re.compile(r"^(Value|Assertion) error, ")


def load_suite_text(text: str, where: str) -> Suite:
    """The suite in `text` (`where` names it in errors: `where:LINE: key: what is wrong`)."""
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SuiteError(f"{where}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}") \
            from None
    if len(nodes) != 1:
        raise SuiteError(f"{where}:1: a suite file holds exactly one YAML document")
    node = nodes[0]
    dup = _duplicate_key(node)
    if dup is not None:
        raise SuiteError(f"{where}:{dup[0]}: key {dup[1]!r} is given twice")
    value = yaml.safe_load(yaml.serialize(node))
    if not isinstance(value, dict):
        raise SuiteError(f"{where}:{node.start_mark.line + 1}: a suite must be a mapping")
    try:
        return Suite.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = tuple(first["loc"])
        msg = _VALUE_ERROR.sub("", str(first["msg"]))
        dup_id = re.match(r"task id '(.*)' is used twice", msg)
        line = _task_id_line(node, dup_id[1]) if dup_id else _node_line(node, loc)
        key = ".".join(str(p) for p in loc) or "suite"
        raise SuiteError(f"{where}:{line}: {key}: {msg}") from None


def load_suite(path: Path) -> Suite:
    """The suite file at `path`; SuiteError (exit 2) names `path:LINE`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read: {exc}") from None
    return load_suite_text(text, str(path))
