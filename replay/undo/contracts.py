"""Tool effect contracts: what a tool changes and how (or whether) it can be undone (DESIGN §8).

Reversibility is declared by the tool owner, never assumed: a tool without a contract is
`unknown`, which every consumer treats as `irreversible`. Contracts are versioned YAML files; a
contract's digest (the content hash of its canonical JSON) is stamped on each tool-call event,
so a plan generated months later uses the contract that was in force when the call ran. Errors
name the file and line of the offending key, because tool owners edit these by hand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from ledger.when import parse_duration as when_duration

__all__ = [
    "ApprovalRule",
    "Compensation",
    "Contract",
    "ContractError",
    "ContractRegistry",
    "EffectClass",
    "Expiry",
    "PreState",
    "ProbeSpec",
    "Window",
    "load_contract_file",
    "load_contracts",
    "parse_duration",
    "render",
]

EffectClass = Literal[
    "read_only", "reversible", "compensable", "mitigable", "irreversible", "unknown"
]
SIDE_EFFECT_CLASSES = frozenset(
    {"reversible", "compensable", "mitigable", "irreversible", "unknown"}
)
_PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[A-Za-z0-9_-]+)*)\}")


class ContractError(InputError, ValueError):
    """A contract file that cannot be loaded; the message names file and line."""


def parse_duration(text: str) -> int:
    """`90d`, `24h`, `30m`, `45s`, `2w` -> seconds (ledger.when.parse_duration)."""
    return int(when_duration(text, "duration").total_seconds())


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProbeSpec(_Model):
    """A read-only probe and the value it must return for the step to run unattended."""

    probe: str = Field(min_length=1)
    args_template: dict[str, JsonValue] = {}
    expect: JsonValue = None


class PreState(_Model):
    """What the hooks capture before the call (into tool.call.ended `pre_state`)."""

    capture: Literal["none", "db_row_preimage", "api_read", "file_snapshot"] = "none"
    probe: str | None = None
    args_template: dict[str, JsonValue] = {}


class Expiry(_Model):
    """What a step becomes once the undo window has passed (compensable -> mitigable)."""

    effect_class: Literal["mitigable", "irreversible"] = "mitigable"
    op: str | None = None
    args_template: dict[str, JsonValue] = {}
    residue: str | None = None


class Window(_Model):
    """How long after the call the declared compensation is valid."""

    duration: str
    on_expiry: Expiry = Expiry(effect_class="irreversible")

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def seconds(self) -> int:
        return parse_duration(self.duration)


class Compensation(_Model):
    """The operation that undoes (or mitigates) the call, with its argument template."""

    op: str = Field(min_length=1)
    args_template: dict[str, JsonValue] = {}
    effectiveness: Literal["full", "partial", "mitigation_only"] = "full"
    residue: str | None = None
    max_attempts: int = Field(default=3, ge=1, le=10)


class ApprovalRule(_Model):
    """Who must approve a compensation (separation of duties is always enforced)."""

    min_approvers: int = Field(default=1, ge=1, le=5)
    roles: tuple[str, ...] = ()
    sod: tuple[Literal["not_original_actor", "not_original_approver"], ...] = (
        "not_original_actor",
        "not_original_approver",
    )


class Contract(_Model):
    """One tool's effect contract at one version."""

    tool: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1)
    effect_class: EffectClass
    resources: tuple[str, ...] = ()
    pre_state: PreState = PreState()
    precondition: ProbeSpec | None = None
    compensation: Compensation | None = None
    window: Window | None = None
    residue: str | None = None
    runbook: str | None = None
    human_observable: bool = False
    approval: ApprovalRule = ApprovalRule()
    description: str | None = None
    # the tool's argument JSON Schema, declared by its owner: it wins over any schema a writer
    # recorded for the tool (replay/toolvalid.py, the tool-call validity SLI)
    args_schema: dict[str, JsonValue] | None = None

    @field_validator("args_schema")
    @classmethod
    def _json_schema(cls, value: dict[str, JsonValue] | None) -> dict[str, JsonValue] | None:
        if value is not None:
            from jsonschema import SchemaError
            from jsonschema.validators import validator_for

            try:
                validator_for(value).check_schema(value)
            except SchemaError as exc:
                raise ValueError(f"not a JSON Schema: {exc.message}") from None
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Contract:
        if self.effect_class == "reversible" and self.pre_state.capture == "none":
            raise ValueError("effect_class reversible needs pre_state.capture (what to restore)")
        if self.effect_class in ("reversible", "compensable") and self.compensation is None:
            raise ValueError(f"effect_class {self.effect_class} needs a compensation op")
        return self

    @property
    def digest(self) -> str:
        """Content hash of the canonical JSON of this contract."""
        return content_hash(self.model_dump(mode="json", exclude_none=True))


def unknown_contract(tool: str) -> Contract:
    """The implicit contract of an undeclared tool: unknown, handled as irreversible."""
    return Contract(
        tool=tool,
        version=1,
        effect_class="unknown",
        residue="no effect contract declared: the effect is unknown and treated as irreversible",
        runbook=f"find the owner of {tool}, establish what the call changed, undo it by hand",
    )


# ----------------------------------------------------------------------------- templates
def lookup(ctx: Mapping[str, Any], path: str) -> Any:
    """`args.record_id` in {"args": {...}} -> value; KeyError names the missing part."""
    node: Any = ctx
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(path)
    return node


def render(template: Any, ctx: Mapping[str, Any]) -> Any:
    """Fill `{args.x}` / `{result.y}` / `{pre_state.z}` placeholders, recursively.

    A string that is exactly one placeholder yields the raw value (numbers and nulls survive);
    placeholders inside longer strings are formatted with str().
    """
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            return lookup(ctx, whole[1])
        return _PLACEHOLDER.sub(lambda m: str(lookup(ctx, m[1])), template)
    if isinstance(template, Mapping):
        return {k: render(v, ctx) for k, v in template.items()}
    if isinstance(template, list | tuple):
        return [render(v, ctx) for v in template]
    return template


# ----------------------------------------------------------------------------- loading
def _node_line(root: yaml.Node, loc: tuple[int | str, ...]) -> int:
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                break
            node = found
        elif (
            isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value)
        ):
            node = node.value[part]
        else:
            break
    return node.start_mark.line + 1


def load_contract_file(path: Path) -> list[Contract]:
    """Every contract in a YAML file (one per document); ContractError names file:line."""
    text = path.read_text(encoding="utf-8")
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ContractError(
            f"{path}:{line}: invalid YAML: {getattr(exc, 'problem', exc)}"
        ) from None
    found: list[Contract] = []
    for node in nodes:
        value = yaml.safe_load(yaml.serialize(node))
        if not isinstance(value, dict):
            raise ContractError(f"{path}:{node.start_mark.line + 1}: a contract must be a mapping")
        try:
            found.append(Contract.model_validate(value))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = tuple(first["loc"])
            line = _node_line(node, loc)
            where = ".".join(str(p) for p in loc) or "contract"
            raise ContractError(f"{path}:{line}: {where}: {first['msg']}") from None
    return found


@dataclass
class ContractRegistry:
    """Contracts by (tool, version) and by digest; the newest version is the one in force."""

    by_key: dict[tuple[str, int], Contract] = field(default_factory=dict)
    by_digest: dict[str, Contract] = field(default_factory=dict)
    digests: dict[tuple[str, int], str] = field(default_factory=dict)

    def add(self, contract: Contract, origin: str = "<memory>") -> None:
        key = (contract.tool, contract.version)
        old = self.by_key.get(key)
        if old is not None and old.digest != contract.digest:
            raise ContractError(
                f"{origin}: {contract.tool} version {contract.version} is declared twice with "
                "different content; bump the version instead"
            )
        digest = contract.digest
        self.by_key[key] = contract
        self.by_digest[digest] = contract
        self.digests[key] = digest

    def in_force(self, tool: str) -> Contract | None:
        versions = [c for (t, _), c in self.by_key.items() if t == tool]
        return max(versions, key=lambda c: c.version) if versions else None

    def digest_for(self, tool: str) -> str | None:
        """The digest hooks stamp on tool.call.started (`contract_digest`)."""
        current = self.in_force(tool)
        return self.digests[(current.tool, current.version)] if current else None

    def resolve(self, tool: str, digest: str | None) -> tuple[Contract, str, str | None]:
        """(contract, how it was found, its digest) for a recorded call; the digest is None for
        the implicit `unknown` contract."""
        if digest is not None:
            hit = self.by_digest.get(digest)
            if hit is not None and hit.tool == tool:
                return hit, "recorded", digest
            return unknown_contract(tool), "recorded digest not found", None
        current = self.in_force(tool)
        if current is None:
            return unknown_contract(tool), "undeclared", None
        return (
            current,
            "inferred (no digest recorded)",
            self.digests[(current.tool, current.version)],
        )

    def tools(self) -> list[str]:
        return sorted({t for t, _ in self.by_key})


def load_contracts(paths: Iterable[Path]) -> ContractRegistry:
    """Load contract files and directories (*.yaml, *.yml) into one registry."""
    registry = ContractRegistry()
    for path in paths:
        files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")]) if path.is_dir() else [path]
        for file in files:
            for contract in load_contract_file(file):
                registry.add(contract, str(file))
    return registry
