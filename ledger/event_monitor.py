"""The `data` of a monitor alert (issue 20): "the continuous verifier found this log tampered".

Why an event: `ledger monitor` exits non-zero and raises a metric, but both vanish with the
process and its scrape history; the alert as a signed operator record stays in the log it is
about, next to the evidence, where an auditor finds it. It is a single-event run in the
tampered origin, an operator record (writers' credentials cannot forge or suppress it by
writing one: ledger.store.controlplane), signed like a gate result over the
agent-ledger/monitor-alert/v1 claim (ledger.gate_claim) with `ledger monitor --sign-with`, else
recorded `asserted` with the reason.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from ledger.event_data import Name, SignedRecord

__all__ = ["MONITOR_EVENT_TYPES", "MonitorAlertData"]

MONITOR_EVENT_TYPES = ("monitor.alert",)

Text = Annotated[str, Field(max_length=4000)]
Size = Annotated[int, Field(ge=0, strict=True)]


class MonitorAlertData(SignedRecord):
    """What the monitor found: where (`origin`, first bad `seq`), the verdict and reason of
    `ledger verify` (reason as printed: attacker text escaped), the size it had verified
    before, and how it found it (`incremental`: the new range; `resample`: an old entry)."""

    origin: Name
    seq: Size | None = None
    verdict: Name
    reason: Text
    verified_size: Size
    found_by: Literal["incremental", "resample"]
