"""The message and annotation helpers of a run (kept apart so runs.py stays readable).

`message_input` is also where an enforced run learns that untrusted input entered it: the
flows rules (untrusted input -> egress) decide on that before the next tool call.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ledger.hooks.sanitize import error_info, escape_text, json_safe

if TYPE_CHECKING:
    from ledger.hooks.enforce import RunEnforcement
    from ledger.hooks.runs import EventRef

__all__ = ["RunMessages", "Trust"]

Trust = Literal["trusted", "untrusted"]


class RunMessages:
    """Mixed into `Run`: messages, guardrail verdicts, errors and custom events."""

    enf: RunEnforcement | None

    record: Callable[..., EventRef]

    def _message(self, kind: str, content: Any, *, role: str, trust: Trust, origin: str | None,
                 attributes: Mapping[str, Any]) -> EventRef:
        def build() -> dict[str, Any]:
            text = content if isinstance(content, str) else None
            if text is None:
                text = json.dumps(json_safe(content), ensure_ascii=False, sort_keys=True)
            return {"role": role, "content": escape_text(text), "content_trust": trust,
                    "origin": origin, "attributes": json_safe(dict(attributes))}

        return self.record(kind, build)

    def message_input(self, content: Any, *, role: str = "user", trust: Trust = "untrusted",
                      origin: str | None = None, **attributes: Any) -> EventRef:
        """Content entering the agent; untrusted by default (web pages, emails, tool output)."""
        if trust == "untrusted" and self.enf is not None:
            self.enf.untrusted = True
        return self._message("message.input", content, role=role, trust=trust, origin=origin,
                             attributes=attributes)

    def message_output(self, content: Any, *, role: str = "assistant", trust: Trust = "trusted",
                       origin: str | None = None, **attributes: Any) -> EventRef:
        """Content the agent produced for a person or system."""
        return self._message("message.output", content, role=role, trust=trust, origin=origin,
                             attributes=attributes)

    def guardrail(self, name: str, verdict: Literal["pass", "fail", "warn", "unknown"],
                  rule: str | None = None, **details: Any) -> EventRef:
        """Record a guardrail verdict observed at run time."""
        return self.record("guardrail.evaluated", {"name": name, "verdict": verdict, "rule": rule,
                                                   "details": details})

    def error(self, error: BaseException | str, where: str | None = None) -> EventRef:
        """Record an error outside a tool call (type and message only)."""
        return self.record("error.raised", {"error": error_info(error), "where": where})

    def custom(self, name: str, **attributes: Any) -> EventRef:
        """Record anything else, by name."""
        return self.record("custom", {"name": name, "attributes": attributes})
