"""Command palette (ctrl+p) entries for the ledger: our own `Provider`.

Why a provider rather than more keys: rare actions (verify, export, exercise, theme) stay one
fuzzy search away without crowding the footer; write actions are left out in --readonly mode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

__all__ = ["LedgerCommands"]


class LedgerCommands(Provider):
    """Board, whole-log timeline, verify, export, exercise AAR, theme, help."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any], bool]]:
        app: Any = self.app
        return [
            (
                "Board: runs, approvals, chain status",
                "Go back to the board",
                app.action_board,
                False,
            ),
            (
                "Timeline: whole log of the default tenant",
                "Every event, virtualised",
                app.action_whole_log,
                False,
            ),
            ("Verify ledger", "Chains, Merkle roots, signed checkpoints", app.action_verify, False),
            ("Export evidence bundle", "SOC 2 evidence export", app.action_export, True),
            (
                "Exercise: write after-action report",
                "Markdown AAR of the running exercise",
                app.action_aar,
                False,
            ),
            ("Toggle dark / light theme", "Switch theme", app.action_toggle_theme, False),
            ("Help: key bindings", "Keys of this screen", app.action_help, False),
        ]

    def _visible(self) -> list[tuple[str, str, Callable[[], Any], bool]]:
        readonly = bool(getattr(self.app, "readonly", False))
        return [c for c in self._commands() if not (c[3] and readonly)]

    async def discover(self) -> Hits:
        for name, help_text, callback, _write in self._visible():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback, _write in self._visible():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
