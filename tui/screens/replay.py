"""Replay a run step by step and re-evaluate it against another published policy version.

Why it uses replay.state.fold and replay.policy: the TUI must show exactly what `ledger replay` /
`ledger check` compute, never a second interpretation. Transport keys follow Dolphie:
`,` back, `.` forward, `space` play/pause, `home`/`end`; `c` shows the rule failures `ledger
check` reports (the same service, so `prompts.registered` and the pack in force included); after
`p` picks a published policy, `c` checks the run as of the current step against it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Footer, Static

from ledger.store.policies import PublishedPolicy
from tui.literal import literal, shown
from tui.messages import PolicyChecked, ReplayLoaded
from tui.screens.common import LedgerScreen

__all__ = ["ReplayScreen"]


class ReplayScreen(LedgerScreen):
    """Step through a run's state; re-check it against a chosen policy."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back", id="replay.back"),
        Binding("comma", "step(-1)", "◀ Step", id="replay.back_step"),
        Binding("full_stop", "step(1)", "Step ▶", id="replay.fwd_step"),
        Binding("space", "play", "▶/❚❚", id="replay.play"),
        Binding("home", "to(0)", "◀◀", show=False, id="replay.start", priority=True),
        Binding("end", "to(-1)", "▶▶", show=False, id="replay.end", priority=True),
        Binding("p", "next_policy", "Policy", id="replay.policy", tooltip="Next published policy"),
        Binding("c", "check", "Re-evaluate", id="replay.check"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.stored: list[Any] = []
        self.step = 0
        self.decisions: list[Any] = []
        self.policies: list[PublishedPolicy] = []  # published packs, in log order
        self.authority: Any = None  # replay.authority.RunAuthority: judges approvals
        self.identity: Any = None  # replay.identity.RunIdentity: who the run acted for
        self.policy_index = -1
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"[b]Replay[/] run {self.run_id}", id="replay-title")
        with Horizontal():
            yield VerticalScroll(Static("loading…", id="replay-state"), id="replay-left")
            yield VerticalScroll(
                Static("p: choose policy · c: re-evaluate", id="replay-verdicts"), id="replay-right"
            )
        yield Footer()

    def on_mount(self) -> None:
        self.load_run()

    @work(
        thread=True, exclusive=True, group="replay", exit_on_error=False, description="Loading run"
    )
    def load_run(self) -> None:
        """The run, decisions about it and the published policies; answers with ReplayLoaded."""
        import uuid

        from ledger.privacy import PayloadOpener
        from ledger.store.policies import published_policies
        from replay.authority import load_authority
        from replay.dbread import load_run
        from replay.identity import identity_of

        data = self.lapp.data
        stored, decisions = data.call(load_run, uuid.UUID(self.run_id))
        policies = data.call(published_policies)
        authority = identity = None
        if stored:
            authority = data.call(load_authority, stored[0].origin, self.lapp.trust_root)
            opener = PayloadOpener(data.settings)
            identity = data.call(identity_of, opener, authority, stored[0])
        self.post_message(ReplayLoaded(stored, decisions, policies, authority, identity))

    @on(ReplayLoaded)
    def _loaded(self, message: ReplayLoaded) -> None:
        # decisions: approvals about this run's calls recorded by another process
        self.stored, self.decisions = message.stored, message.decisions
        self.policies = message.policies
        self.authority, self.identity = message.authority, message.identity
        self.step = max(len(self.stored) - 1, 0)
        self._show_state()

    def _state(self) -> Any:
        from replay.state import fold

        if not self.stored:
            return None
        return fold(self.stored, at_seq=self.stored[self.step].seq, decisions=self.decisions,
                    authority=self.authority, identity=self.identity)

    def _show_state(self) -> None:
        state = self._state()
        out = Text()
        if state is None:
            out.append("run not found", style="bold red")
            self.query_one("#replay-state", Static).update(shown(out))
            return
        out.append(f"step {self.step + 1}/{len(self.stored)}  ", style="bold")
        out.append("◀◀ ◀ " + ("❚❚" if self.timer else "▶") + " ▶ ▶▶\n", style="cyan")
        event = self.stored[self.step].event
        out.append(f"now at   {event.type} · {event.occurred_at}\n")
        v, t = state.versions, state.totals
        out.append(
            f"versions prompt {v.prompt_version} · model {v.model} · policy "
            f"{(v.policy_hash or '-')[:12]}\n",
            style="dim",
        )
        out.append(
            f"totals   {t.events} events · {t.llm_calls} llm · {t.tool_calls} tools · "
            f"{t.total_tokens} tokens · ${t.cost_usd}\n",
            style="dim",
        )
        out.append(
            f"open     tool calls {list(state.open_tool_calls)} · "
            f"llm calls {list(state.open_llm_calls)}\n"
        )
        out.append("\ntimeline so far\n", style="bold")
        for entry in state.timeline[-30:]:
            out.append(
                f"  {entry.run_seq:>3} {entry.occurred_at[11:23]} "
                f"{entry.type:<20} {entry.summary}\n"
            )
        self.query_one("#replay-state", Static).update(shown(out))

    def action_step(self, delta: int) -> None:
        if self.stored:
            self.step = max(0, min(self.step + delta, len(self.stored) - 1))
            self._show_state()

    def action_to(self, where: int) -> None:
        if self.stored:
            self.step = 0 if where == 0 else len(self.stored) - 1
            self._show_state()

    def action_play(self) -> None:
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        elif not self.lapp.snapshot:
            if self.step >= len(self.stored) - 1:
                self.step = 0
            self.timer = self.set_interval(0.5, self._tick)
        self._show_state()

    def _tick(self) -> None:
        if self.step >= len(self.stored) - 1 and self.timer is not None:
            self.timer.stop()
            self.timer = None
        else:
            self.step += 1
        self._show_state()

    def action_next_policy(self) -> None:
        if not self.policies:
            self.query_one("#replay-verdicts", Static).update(
                Text(
                    "no policy.published events in the ledger (ledger policy publish FILE)",
                    style="yellow",
                )
            )
            return
        self.policy_index = (self.policy_index + 1) % len(self.policies)
        policy = self.policies[self.policy_index]
        self.query_one("#replay-verdicts", Static).update(
            literal(
                f"policy {policy.name} {policy.version} "
                f"({policy.policy_hash[:12]}) — c to check"
            )
        )

    def action_check(self) -> None:
        """`c`: the run as `ledger check` judges it (the pack in force, every recorded event);
        after `p` picked a published pack, the run as of the current step against that pack."""
        if self.policy_index < 0:
            self.check_in_force()
        elif self.stored:
            self.check(self.policy_index, self.step)

    @work(thread=True, exclusive=True, group="policy", exit_on_error=False,
          description="Checking as ledger check")  # fmt: skip
    def check_in_force(self) -> None:
        from tui.findings import failures_text, load_findings

        lapp = self.lapp
        found = load_findings(lapp.settings, [self.run_id], lapp.trust_root)
        docs = [{"event_id": str(r.event.event_id), "run_seq": r.event.run_seq,
                 "type": r.event.type} for r in self.stored]  # fmt: skip
        out = Text("as `ledger check`: the pack in force, the whole run (p: another pack)\n")
        self.post_message(PolicyChecked(out.append_text(failures_text(found, self.run_id, docs))))

    @work(
        thread=True,
        exclusive=True,
        group="policy",
        exit_on_error=False,
        description="Re-evaluating",
    )
    def check(self, index: int, step: int) -> None:
        from replay.policy.engine import check_run, compile_pack
        from replay.policy.loader import load_pack_data
        from replay.state import fold

        policy = self.policies[index]
        state = fold(self.stored, at_seq=self.stored[step].seq, decisions=self.decisions,
                     authority=self.authority, identity=self.identity)
        verdicts = check_run(compile_pack(load_pack_data(policy.document)), state)
        out = Text()
        out.append(f"{policy.name} {policy.version} as of step {step + 1}\n", style="bold")
        for v in verdicts:
            style = {"fail": "bold red", "pass": "green"}.get(v.outcome, "yellow")
            out.append(f"{v.outcome.upper():<8}", style=style)
            out.append(f"{v.rule_id}: {v.explanation}\n")
        self.post_message(PolicyChecked(out))

    @on(PolicyChecked)
    def _checked(self, message: PolicyChecked) -> None:
        self.query_one("#replay-verdicts", Static).update(shown(message.text))
