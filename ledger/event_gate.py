"""The `data` of a release-gate result (issue 19): "the release passed the gate", as evidence.

Why an event and not a CI log: a gate decides whether a prompt, model, policy or tool-contract
version may ship, and SOC 2 CC8.1 asks for proof that changes were tested before release. So
each result — the suite (name, version and the SHA-256 of its normalised document), the
versions it judged, each task's outcome with the run ids that are its evidence, and the
decision — is hashed, sequenced and listed in the evidence bundle. It is a single-event run in
the origin of the runs it judged, an operator record (writers' credentials cannot forge one:
ledger.store.controlplane), signed with the key given to `ledger gate --sign-with` (the
registry's service identity key in CI) over the agent-ledger/gate/v1 claim; without a key or a
registry in force it is recorded `asserted`, like a stop.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field

from ledger.event_data import Decimal, Frozen, Hash, Name

__all__ = [
    "GATE_EVENT_TYPES",
    "GateComparison",
    "GateResultData",
    "GateTaskOutcome",
    "GateVersions",
]

GATE_EVENT_TYPES = ("gate.result",)

Count = Annotated[int, Field(ge=0, strict=True)]
Text = Annotated[str, Field(max_length=4000)]


class GateVersions(Frozen):
    """The versions in force for the runs judged (None: not recorded by the runs)."""

    agent: Name
    agent_version: str | None = None
    prompt_version: str | None = None
    model: str | None = None
    policy_hash: Hash | None = None
    tool_contract_digest: str | None = None


class GateTaskOutcome(Frozen):
    """One task of the suite: attempts made, how many passed / failed / errored, the runs.

    `errored` counts attempts that could not run or ended failed: they stay in the denominator
    (an error is a failure, never dropped). `reasons` are short, one per failing attempt."""

    task: Name
    adversarial: bool = False
    attempts: Count
    passed: Count
    failed: Count
    errored: Count = 0
    verdict: Literal["pass", "fail", "not_enough_runs"]
    run_ids: tuple[uuid.UUID, ...] = ()
    reasons: tuple[Text, ...] = ()


class GateComparison(Frozen):
    """What `ledger gate compare` judged: the two sides, the test and its threshold."""

    baseline: Name  # a label, or a version such as prompt=sales-ops/v4
    candidate: Name
    alpha: Decimal = "0.05"  # decimal strings: hashed content never depends on float format
    min_repeats: Count = 5
    regressions: tuple[Name, ...] = ()  # tasks flagged (Fisher one-sided, or adversarial)
    baseline_pass_rate: Decimal | None = None  # e.g. "0.9", overall over every task
    candidate_pass_rate: Decimal | None = None


class GateResultData(Frozen):
    """A gate result (`kind`: run = tasks run now, check = recorded runs, compare = two sides).

    `decision` is the gate's: `pass`, `fail`, or `not_enough_runs` (never a pass). Authority
    fields as StopData's: `registry` when signed by a key the registry in force accepts for
    the ledger service, `asserted` otherwise (`authority_reason` says why)."""

    kind: Literal["run", "check", "compare"]
    suite: Name
    suite_version: str | None = None
    suite_hash: Hash
    label: str | None = None
    # the suite's own `alpha` and `min_repeats` (run/check): what `gate compare` defaults to
    suite_alpha: Decimal | None = None
    suite_min_repeats: Annotated[int, Field(ge=1, strict=True)] | None = None
    versions: tuple[GateVersions, ...] = ()
    tasks: tuple[GateTaskOutcome, ...] = ()
    comparison: GateComparison | None = None
    decision: Literal["pass", "fail", "not_enough_runs"]
    recorded_by: Name
    authority: Literal["registry", "asserted"] | None = None
    registry_hash: str | None = None
    authority_reason: str | None = None
    signature: str | None = None
    signing_key: str | None = None
    issued_at: str | None = None
