"""The policy pack schema: the operators' guardrail file, plus typed extensions (DESIGN §7).

The top level accepts the seed guardrail keys exactly as operators write them today
(`max_total_tokens`, `max_tool_calls`, `timeouts`, `budgets`, `policies.require_approval_for`),
so an existing file is a valid pack unchanged. Everything is `extra="forbid"`: a misspelt key is
an error with its line number, never a silently ignored rule. CEL expressions and regexes are
compiled at validation time so a broken pack cannot be published.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from replay.policy.cel import check_expression
from replay.policy.detectors import BUILTIN_DETECTORS

__all__ = [
    "ApprovalRule",
    "Breaker",
    "CaptureRules",
    "CustomRule",
    "EgressRules",
    "FlowRule",
    "PolicyPack",
    "PrincipalRules",
    "Scope",
]


def _plain_decimal(value: object) -> str:
    """One spelling per amount (0.60 == 0.6 == "0.6") so equal packs hash equally."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number of US dollars")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise ValueError("must be a number of US dollars") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError("must be a finite, non-negative amount")
    return format(amount.normalize(), "f")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from None
    return value


def _cel(value: str) -> str:
    check_expression(value)
    return value


Usd = Annotated[str, BeforeValidator(_plain_decimal)]
Regex = Annotated[str, AfterValidator(_regex)]
Cel = Annotated[str, AfterValidator(_cel)]
Count = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(gt=0)]
OnMissing = Literal["unknown", "fail"]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)


class PolicyMeta(_Strict):
    """Identity of the pack: the name and version shown in `ledger policy list`."""

    id: str = Field(min_length=1, max_length=200)
    version: str = Field(min_length=1, max_length=100)
    owner: str | None = None
    description: str | None = None


class Defaults(_Strict):
    """What a rule reports when the data it needs was not captured (never `pass`)."""

    on_missing: OnMissing = "unknown"
    # How far a writer's `occurred_at` may run ahead of the sequencer's `recorded_at` (honest
    # clock drift) before the time rules stop trusting it (replay.policy.timebounds).
    clock_skew_seconds: float = Field(default=5.0, ge=0, le=86_400)
    # How far a writer's `occurred_at` may lag behind its `recorded_at` (hooks sequence within a
    # second; older is back-dated or spooled): beyond it the time rules say unknown. None: off.
    max_record_lag_seconds: float | None = Field(default=60.0, ge=0)


class PerToolTimeouts(_Strict):
    """Per-tool limits in seconds with a default for tools not listed."""

    default: Seconds | None = None
    tools: dict[str, Seconds] = {}


class Timeouts(_Strict):
    overall_seconds: Seconds | None = None
    per_tool_seconds: Seconds | PerToolTimeouts | None = None


class Budgets(_Strict):
    """`on_unknown_cost` (enforcement only): whether a run that made an LLM call with no
    recorded cost may still call tools under a USD budget (deny: fail closed)."""

    max_usd_per_run: Usd | None = None
    on_unknown_cost: Literal["deny", "allow"] = "deny"


class PrincipalRules(_Strict):
    """What a rule asks of the principals it judges (docs/identity.md).

    `require_verified`: the run's initiating user must be verified from an identity token the
    registry's providers signed (an asserted principal never satisfies the rule), and an approval
    counts only when it is signed by a registered approver key.
    """

    require_verified: bool = False


class ApprovalRule(_Strict):
    """A tool call matching `action` needs an approved, bound, timely, independent decision."""

    action: str = Field(min_length=1)
    any: bool = False
    threshold_usd: Usd | None = None
    amount_field: str = "amount_usd"
    when: Cel | None = None
    approver_roles: tuple[str, ...] = ()
    forbid_self_approval: bool = False
    max_age_seconds: Seconds | None = None
    bind_args: bool = True
    principals: PrincipalRules | None = None
    # None: the pack's default (true under `schema: 2`, false for packs without a schema)
    require_signed: bool | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> ApprovalRule:
        if not self.any and self.threshold_usd is None and self.when is None:
            raise ValueError("give one of any: true, threshold_usd or when")
        return self


class Policies(_Strict):
    """`approval_wait_seconds`: how long the hooks wait for a signed decision before raising
    ApprovalRequired (0: raise at once)."""

    require_approval_for: tuple[ApprovalRule, ...] = ()
    approval_wait_seconds: float = Field(default=0, ge=0, le=86_400)


class ToolRules(_Strict):
    """Which tools may run, and the contract digest each pinned tool must carry."""

    allow: tuple[str, ...] | None = None
    pinned: dict[str, str] = {}


class RecipientRule(_Strict):
    """Allowed values for one argument of one tool (addresses, domains or URL hosts)."""

    tool: str = Field(min_length=1)
    argument: str = Field(min_length=1)
    allow: tuple[str, ...] = ()
    allow_domains: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _something_allowed(self) -> RecipientRule:
        if not self.allow and not self.allow_domains:
            raise ValueError("give allow or allow_domains")
        return self


class Detectors(_Strict):
    """Built-in detector names plus custom name -> regex detectors."""

    detectors: tuple[str, ...] = ()
    custom: dict[str, Regex] = {}

    @model_validator(mode="after")
    def _known(self) -> Detectors:
        unknown = [name for name in self.detectors if name not in BUILTIN_DETECTORS]
        if unknown:
            known = ", ".join(sorted(BUILTIN_DETECTORS))
            raise ValueError(f"unknown detector {unknown[0]!r} (known: {known})")
        return self


class EgressRules(_Strict):
    """Tools that send data out, and the PII and secret detectors applied to what they send."""

    tools: tuple[str, ...] = Field(min_length=1)
    include_output_messages: bool = False
    pii: Detectors | None = None
    secrets: Detectors | None = None


class FlowSource(_Strict):
    untrusted_messages: bool = True
    tools: tuple[str, ...] = ()


class FlowSink(_Strict):
    tools: tuple[str, ...] = Field(min_length=1)


class FlowRule(_Strict):
    """No call to a sink tool after untrusted input, unless that call was approved after it."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    from_: FlowSource = Field(default=FlowSource(), alias="from")
    to: FlowSink
    unless_approved: bool = True

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class ModelRules(_Strict):
    allow: tuple[str, ...] = Field(min_length=1)


class PromptRules(_Strict):
    """Registered prompt versions: name -> allowed versions (or template hashes)."""

    registered: dict[str, tuple[str, ...]] = Field(min_length=1)


class LoopRules(_Strict):
    max_identical_calls: Annotated[int, Field(ge=1)]


class CaptureRules(_Strict):
    require_run_ended: bool = True
    forbid_open_calls: bool = True
    forbid_gaps: bool = True


class CustomRule(_Strict):
    """A CEL expression that must be true; `scope: tool_call` evaluates it once per call."""

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str | None = None
    scope: Literal["run", "tool_call"] = "run"
    tools: tuple[str, ...] = ()
    expr: Cel
    on_missing: OnMissing | None = None
    principals: PrincipalRules | None = None


def _off(value: object) -> object:
    """YAML 1.1 reads an unquoted `off` as false: `mode: off` means the mode off."""
    return "off" if value is False else value


Mode = Annotated[Literal["enforce", "shadow", "off"], BeforeValidator(_off)]


class Scope(_Strict):
    """Which runs a pack applies to (globs, fnmatchcase); an absent list matches every value.

    A pack without `scope` applies to every agent of the tenant (log) it is published in."""

    agents: tuple[str, ...] | None = None
    versions: tuple[str, ...] | None = None
    tenants: tuple[str, ...] | None = None


class Breaker(_Strict):
    """Stop a scope after `trips` failures of `rule` within `window_seconds` (ledger serve)."""

    rule: str = Field(min_length=1)
    trips: Annotated[int, Field(ge=1)]
    window_seconds: Seconds
    stop: Literal["run", "agent", "agent_version", "tenant", "tool"]


class PolicyPack(_Strict):
    """A whole pack. Every key is optional; an empty pack checks nothing (and says so).

    `schema: 2` opts into the defaults of issue 14 (approvals must be signed); a pack without
    `schema` keeps the meaning it was written with.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1, 2] | None = Field(default=None, alias="schema")
    policy: PolicyMeta | None = None
    defaults: Defaults = Defaults()
    max_total_tokens: Count | None = None
    max_tool_calls: Count | None = None
    max_tool_calls_per_tool: dict[str, Count] = {}
    timeouts: Timeouts | None = None
    budgets: Budgets | None = None
    policies: Policies | None = None
    tools: ToolRules | None = None
    recipients: tuple[RecipientRule, ...] = ()
    egress: EgressRules | None = None
    flows: tuple[FlowRule, ...] = ()
    models: ModelRules | None = None
    prompts: PromptRules | None = None
    loops: LoopRules | None = None
    capture: CaptureRules | None = None
    rules: tuple[CustomRule, ...] = ()
    # Live enforcement (issue 16): the pack's mode, per-rule overrides (rule id or glob), scope
    mode: Mode = "off"
    rule_modes: dict[str, Mode] = {}
    scope: Scope | None = None
    breakers: tuple[Breaker, ...] = ()

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyPack:
        for group, items in (("flows", self.flows), ("rules", self.rules)):
            ids = [item.id for item in items]
            if len(ids) != len(set(ids)):
                raise ValueError(f"{group}: ids must be unique")
        return self
