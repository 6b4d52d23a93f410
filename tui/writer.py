"""The TUI's write side: annotations, stops and lifts, and seeding an exercise scenario.

Why a module of its own: `ledger tui --readonly` must not be able to write, and the surest way
is that a read-only session never even imports a write API. This is the only tui module that
imports `ledger.operator`, `ledger.stops` and the write door; the app hands it out through
`LedgerApp.writer()`, which refuses in read-only mode, so a read-only session never loads it
(tests/tui checks `sys.modules`). (The undo approve/apply calls of tui.actions are the replay
layer's and are imported only inside the write worker that runs them.)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from ledger.authority.decide import SignedDecision
from ledger.authority.trust import TrustRoot
from ledger.events import EventBase
from ledger.operator import AnnotationKind, Recorded, record_annotation
from ledger.stops import StopRecorded as StopDone
from ledger.stops import lift_stop, request_stop
from ledger.store.door import append
from tui.data import LedgerData

__all__ = ["Writer"]


class Writer:
    """Records what the operator does, as `user`, through the ledger's services."""

    def __init__(self, data: LedgerData, user: str, root: TrustRoot | None = None) -> None:
        self.data, self.user, self.root = data, user, root

    def annotate(
        self,
        tenant: str,
        *,
        target_event_id: str | None,
        target_run_id: str | None,
        kind: AnnotationKind,
        text: str,
        tags: Sequence[str] = (),
    ) -> Recorded:
        """A note, bookmark or tag on an event or run (`ledger.operator.record_annotation`)."""
        return self.data.call(
            record_annotation,
            self.data.settings,
            tenant=tenant,
            author=self.user,
            kind=kind,
            text=text,
            target_event_id=uuid.UUID(target_event_id) if target_event_id else None,
            target_run_id=uuid.UUID(target_run_id) if target_run_id else None,
            tags=tags,
        )

    def stop(
        self,
        tenant: str,
        *,
        target: str,
        reason: str,
        caused_by: str | None = None,
        tool_call_id: str | None = None,
    ) -> StopDone:
        """Stop a scope (`run:`, `agent:NAME[@VERSION]`, `tenant:`, `tool:`) exactly as `ledger
        stop` does (ledger.stops.request_stop): under a registry in force (judged by the
        session's trust root) the user needs a `stop` grant and signs the claim with their
        approver key (`ledger keys approver NAME`); otherwise StopRefused and nothing is
        written. Without a trust root or registry it is recorded as asserted. `caused_by` is
        the event the panel was opened on, `tool_call_id` its tool call (evidence only)."""
        return self.data.call(
            request_stop, self.data.settings, target=target, reason=reason,
            requested_by=self.user, root=self.root, tenant=tenant, via="tui",
            target_tool_call_id=tool_call_id,
            caused_by=uuid.UUID(caused_by) if caused_by else None,
        )  # fmt: skip

    def resume(self, tenant: str, *, target: str, reason: str) -> StopDone:
        """Lift the active stops of exactly `target` (`ledger resume`, ledger.stops.lift_stop),
        judged like a stop but against `resume` grants."""
        return self.data.call(
            lift_stop, self.data.settings, target=target, reason=reason,
            lifted_by=self.user, root=self.root, tenant=tenant, via="tui",
        )  # fmt: skip

    def seed(self, events: Sequence[EventBase]) -> int:
        """Append a scenario's events through the write door and sequence them; how many."""
        return self.data.call(append, events, self.data.settings).sequenced


def record_decision(
    writer: Writer, tenant: str, *, approval_id: str, decision: str, root: TrustRoot | None
) -> SignedDecision:
    """The operator's signed decision on a pending approval (ledger.authority.decide).

    The key is the operator's own approver key (`ledger keys approver NAME`, NAME the TUI user),
    never created here; the registry in force is judged by `root` (the TUI's --trust-root or
    $LEDGER_TRUST_ROOT). Refusals are one-line LedgerErrors and record nothing.
    """
    from ledger.approver_keys import load_approver_signer
    from ledger.authority.decide import decide_signed
    settings = writer.data.settings
    signer = load_approver_signer(settings, writer.user)
    return writer.data.call(
        decide_signed, settings, approval_id=approval_id, approver=writer.user,
        decision=decision, signer=signer, root=root, tenant=tenant,
    )
