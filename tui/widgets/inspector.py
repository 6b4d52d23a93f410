"""Rendering of the inspector pane: canonical JSON, hashes, chain, proof, links, version diff.

Why `rich.text.Text` and never markup strings: event content is attacker-controlled (a
prompt-injected email can contain `[b]` or escape-like text), so it is appended as plain text.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text

__all__ = ["render_detail"]


def _ok(flag: bool) -> str:
    return "bold green" if flag else "bold red"


def render_detail(detail: Any) -> Text:
    """The inspector text for an `EventDetail` (or a placeholder)."""
    out = Text()
    if detail is None:
        out.append("event not found", style="bold red")
        return out
    doc = detail.document
    out.append(f"{doc.get('type')}", style="bold")
    out.append(f"  {detail.origin} #{detail.seq}\n", style="dim")
    out.append("event   ", style="dim")
    out.append(
        f"{doc.get('event_id')}\nrun     {doc.get('run_id')} · run_seq {doc.get('run_seq')}\n"
    )
    out.append("leaf    ", style="dim")
    out.append(f"{detail.leaf_hash}\n")
    out.append("hash    ", style="dim")
    out.append(
        "recomputed ✓\n" if detail.recomputed_ok else "MISMATCH ✗\n",
        style=_ok(detail.recomputed_ok),
    )
    out.append("chain   ", style="dim")
    out.append(detail.chain + "\n", style=_ok(not detail.chain.startswith(("GAP", "BROKEN"))))
    out.append("proof   ", style="dim")
    out.append(detail.proof + "\n", style=_ok(detail.proof.startswith("included")))
    if detail.links:
        out.append("\nlinks\n", style="bold")
        for relation, origin, seq, what in detail.links:
            out.append(f"  {relation:<14}", style="cyan")
            out.append(f" {origin.rsplit('/', 1)[-1]}#{seq} {what}\n")
    if detail.version_diff:
        out.append("\nversions vs previous run\n", style="bold")
        for line in detail.version_diff:
            out.append(f"  {line}\n", style="yellow" if line.startswith("≠") else "")
    out.append("\ncanonical JSON (RFC 8785, as hashed)\n", style="bold")
    out.append(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return out
