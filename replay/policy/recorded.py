"""What the record itself says about a call's args: their hash recomputed, never the writer's.

The `args_hash` field of a `tool.call.started` event is text the writer chose; rules that
compare calls by their args (approval binding, identical-call loops) recompute the hash from the
recorded args instead, so a hostile writer cannot make a $9,999 refund look like an approved
$250 one, or twelve identical lookups look like twelve different ones.
"""

from __future__ import annotations

from ledger.authority.judge import not_fully_recorded
from ledger.canonical import content_hash as args_hash
from replay.model import ToolCallRecord

__all__ = ["args_identity", "not_fully_recorded", "recorded_args_hash"]


def recorded_args_hash(call: ToolCallRecord) -> str | None:
    """The call's args hash recomputed from its recorded args; None if they are not all there."""
    if not_fully_recorded(call.args):
        return None
    return args_hash(call.args)


def args_identity(call: ToolCallRecord) -> str:
    """What makes two calls "the same args" for a loop: the recomputed hash, or, where the args
    are only partly recorded, the hash of what was recorded (markers included), never the
    event's own `args_hash` field."""
    return recorded_args_hash(call) or args_hash(call.args)
