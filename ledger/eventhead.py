"""The envelope fields of an event body, decoded without the rest of it.

The sequencer (checking a body before giving it a `seq`) and the verifier (checking the stored
columns and run chains) need only these fields; msgspec reads them straight from the canonical
bytes and skips the rest, several times faster than building the full event model.
"""

from __future__ import annotations

import msgspec

__all__ = ["EventHead", "decode_head", "decode_heads"]


class EventHead(msgspec.Struct, frozen=True, gc=False):
    """What a body says about where it belongs: type, identity, place in its run, time."""

    type: str
    event_id: str
    run_id: str
    run_seq: int
    occurred_at: str
    prev_run_hash: str | None = None
    tenant: str = "default"


decode_head = msgspec.json.Decoder(EventHead).decode
"""One body; raises msgspec.DecodeError (ValidationError for wrong or missing fields)."""

decode_heads = msgspec.json.Decoder(list[EventHead]).decode
"""A JSON array of bodies (the verifier's batches)."""
