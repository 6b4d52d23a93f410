"""The identity tokens a bundle discloses, re-verified offline: who started each run, proven.

Why the bundle discloses tokens at all: the agent host records them and is the party we
distrust, so the only way an auditor can know who started a run is to verify the token itself.
The body of `run.started` holds only a salted commitment; `identity/tokens.jsonl` hands over the
salt and the compact token so the commitment can be recomputed here. A disclosure is bound to its
place: the recomputed commitment must equal the one at that path in the `run.started` body at
that seq in this bundle (so a disclosure cannot be moved to another run or role); a disclosure
that does not is a false statement inside the bundle, a bundle problem (INVALID). The verdict on
a token that does bind (verified, or asserted with the reason) is an authority finding, judged
with the shared rule (ledger.authority.token_judge) against the registry in force at that seq
and the sequencer's `recorded_at` the exporter attests in the row (the hashed body has no such
time; `occurred_at` is the writer's and could be backdated). Pure: no database code.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped,unused-ignore]

from exporters.authority_report import IdentityReport
from exporters.bundle_events import streaming_parquet
from ledger import ids
from ledger.authority.history import RegistryHistory
from ledger.authority.token_judge import TOKEN_ROLES, judge_token, token_commitments, token_path
from ledger.commitment import commitment_of

if TYPE_CHECKING:
    from exporters.bundle_report import BundleReport

__all__ = [
    "IDENTITY_TOKENS",
    "IdentityReport",
    "StartedSlots",
    "check_identities",
    "event_bodies",
    "started_slots",
]

IDENTITY_TOKENS = "identity/tokens.jsonl"
NOT_DISCLOSED = "token not disclosed"
ERASED = "its identity token was erased"
_EVENTS = "ledger/events.parquet"


def event_bodies(root: Path, types: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(seq, event) of the period's events of `types`, filtered in Arrow before decoding."""
    reader = streaming_parquet(root / _EVENTS)
    for batch in reader.iter_batches(batch_size=50_000, columns=["seq", "type", "body"]):
        mask = pc.is_in(batch.column("type"), value_set=pa.array(types))
        chosen = batch.filter(mask)
        for seq, body in zip(
            chosen.column("seq").to_pylist(), chosen.column("body").to_pylist(), strict=True
        ):
            try:
                event = orjson.loads(body)
            except orjson.JSONDecodeError:
                continue  # reported by the event checks; nothing to judge
            if isinstance(event, dict) and isinstance(event.get("data"), dict):
                yield int(seq), event


@dataclass(frozen=True, slots=True)
class StartedSlots:
    """A `run.started` of the period that committed identity tokens: role -> commitment."""

    seq: int
    event_id: str
    commitments: dict[str, str]


def _commitments(event: dict[str, Any]) -> dict[str, str]:
    attrs = event["data"].get("attributes")
    return token_commitments(attrs.get("identity_tokens") if isinstance(attrs, dict) else None)


def started_slots(root: Path) -> list[StartedSlots]:
    """Every `run.started` in the bundle's events whose body commits identity tokens."""
    found = []
    for seq, event in event_bodies(root, ["run.started"]):
        commitments = _commitments(event)
        if commitments:
            found.append(StartedSlots(seq, str(event.get("event_id")), commitments))
    return found


@dataclass(frozen=True, slots=True)
class _Disclosure:
    row: int
    seq: int
    role: str
    token: str
    recorded_at_ns: int


def _parse(line: bytes) -> tuple[int, str, str, str, str, bytes, str, int]:
    item = orjson.loads(line)
    return (
        int(item["seq"]), str(item["event_id"]), str(item["role"]), str(item["path"]),
        str(item["commitment"]), base64.b64decode(item["salt"], validate=True),
        str(item["token"]), ids.parse_timestamp(str(item["recorded_at"])),
    )


def _bound(
    line: bytes, row: int, slots: dict[int, StartedSlots], report: BundleReport
) -> _Disclosure | None:
    """The disclosure on `line` if it binds to its place in this bundle; else a problem."""
    try:
        seq, event_id, role, path, commitment, salt, token, at_ns = _parse(line)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, binascii.Error):
        report.add(IDENTITY_TOKENS, "not an identity token disclosure", row=row)
        return None
    started = slots.get(seq)
    if started is None or started.event_id != event_id:
        why = "names no run.started with identity tokens in this bundle at that seq"
    elif role not in started.commitments or path != token_path(role):
        why = f"role {role!r} at {path!r} is not a token slot of that run.started"
    elif commitment_of(salt, path, token) != commitment:
        why = "salt, path and token do not recompute the disclosed commitment"
    elif started.commitments[role] != commitment:
        why = f"commitment is not the one the run.started body holds for {role}"
    else:
        return _Disclosure(row, seq, role, token, at_ns)
    report.add(IDENTITY_TOKENS, f"disclosure does not bind: {why}", row=row, seq=seq)
    return None


def _disclosures(
    root: Path, slots: dict[int, StartedSlots], report: BundleReport
) -> dict[tuple[int, str], _Disclosure]:
    found: dict[tuple[int, str], _Disclosure] = {}
    try:
        lines = (root / IDENTITY_TOKENS).read_bytes().splitlines()
    except OSError:
        report.add(IDENTITY_TOKENS, "missing, yet the manifest says the tokens are disclosed")
        return found
    for row, line in enumerate(lines, 1):
        bound = _bound(line, row, slots, report)
        if bound is None:
            continue
        if (bound.seq, bound.role) in found:
            report.add(IDENTITY_TOKENS, "a second disclosure for the same token", row=row,
                       seq=bound.seq)
            continue
        found[(bound.seq, bound.role)] = bound
    return found


def check_identities(
    root: Path, section: Any, history: RegistryHistory | None, report: BundleReport
) -> IdentityReport:
    """Bind every disclosure to its run.started (problems go to `report`) and, with a
    `history` judged against the auditor's trust root, verify each token (the findings)."""
    out = IdentityReport()
    slots = {s.seq: s for s in started_slots(root)}
    out.tokens = sum(len(s.commitments) for s in slots.values())
    section = section if isinstance(section, dict) else {}
    disclosed = section.get("file") == IDENTITY_TOKENS
    found = _disclosures(root, slots, report) if disclosed else {}
    missing = out.tokens - len(found)
    if disclosed and missing != section.get("erased"):
        report.add(IDENTITY_TOKENS, f"{missing} recorded token(s) of the period are not "
                                    f"disclosed, the manifest counts {section.get('erased')} "
                                    "erased")
    if history is None:
        return out
    for seq, started in sorted(slots.items()):
        for role in TOKEN_ROLES:
            if role not in started.commitments:
                continue
            item = found.get((seq, role))
            if item is None:
                status, why = ("erased", ERASED) if disclosed else ("not_disclosed", NOT_DISCLOSED)
                out.finding(seq, role, status, f"{role}: {why}")
                continue
            judged = judge_token(item.token, history.at(seq), role, item.recorded_at_ns)
            if judged.principal is None:
                out.finding(seq, role, "asserted", judged.reason)
            else:
                out.verified += 1
    return out
