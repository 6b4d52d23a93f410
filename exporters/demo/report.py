"""After the story is recorded: verify, check, plan the undo, export, verify the bundle.

This is what `ledger demo` prints: the same steps an on-call engineer and an auditor would take,
each through the library the CLI commands use, so the output is real, not canned.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import typer

from exporters.demo.story import Story
from ledger import ids
from ledger.config import Settings
from ledger.errors import VerificationFailed
from ledger.store.sequencer import log_signer, try_sequence
from ledger.verify import report_line, verify_ledger
from replay.policy.service import check_in_force
from replay.undo.dryrun import render_step
from replay.undo.model import UndoPlan, write_plan
from replay.undo.record import record_plan
from replay.undo.service import plan_for

__all__ = ["Outcome", "report"]


@dataclass
class Outcome:
    """Everything the demo established, for the end-to-end test and the TUI hint."""

    verified: bool = False
    findings: dict[str, list[str]] = field(default_factory=dict)
    unknowns: dict[str, list[str]] = field(default_factory=dict)
    summary: str = ""
    plan: UndoPlan | None = None
    plan_path: Path | None = None
    bundle: Path | None = None
    bundle_valid: bool = False


def _findings(conn: psycopg.Connection, settings: Settings, story: Story, outcome: Outcome) -> None:
    """Failing and unknown rules per run, checked against the policy each run ran under, and
    the summary line `ledger check` prints for the same runs."""
    from replay.cli.check_cmd import summary

    root = story.authority.trust_root if story.authority is not None else None
    checked = check_in_force(conn, settings, [uuid.UUID(r) for r in story.runs], trust_root=root)
    if checked.missing:
        raise VerificationFailed(f"run {checked.missing[0]} has no stored events")
    for entry in checked.entries:
        if entry.policy_hash is None:
            raise VerificationFailed(f"run {entry.run_id}: {entry.verdicts[0].explanation}")
        failed = [f"{v.rule_id}: {v.explanation}" for v in entry.failures]
        unknown = [f"{v.rule_id}: {v.explanation}" for v in entry.verdicts
                   if v.outcome == "unknown"]
        if failed:
            outcome.findings[str(entry.run_id)] = failed
        if unknown:
            outcome.unknowns[str(entry.run_id)] = unknown
    outcome.summary = summary(checked.entries)


def _plan(conn: psycopg.Connection, settings: Settings, story: Story) -> UndoPlan:
    """The incident's undo plan, from the same service as `ledger undo plan` and the TUI."""
    targets = [
        uuid.UUID(story.incident[k]) for k in ("prompt_injection", "refund_without_approval")
    ]
    planned = plan_for(
        conn,
        settings,
        targets,
        created_by="on-call@example.com",
        reason="incident: prompt injection and unapproved refund",
    )
    record_plan(conn, settings, planned.plan, "on-call@example.com")
    return planned.plan


def report(settings: Settings, conn: psycopg.Connection, story: Story, out_dir: Path) -> Outcome:
    """Run the investigation over the recorded story and print it; returns what was found."""
    from exporters.bundle import ExportParams, export_bundle
    from exporters.bundle_verify import verify_bundle

    outcome = Outcome()
    echo = typer.echo
    try_sequence(conn, settings, wait=True)
    verdict = verify_ledger(conn, settings)
    outcome.verified = verdict.status == "ok"
    echo(f"\n1. verify the ledger\n   {report_line(verdict)}")

    _findings(conn, settings, story, outcome)
    echo(f"\n2. check every run against the policy in force ({len(story.runs)} runs)")
    names = {v: k for k, v in story.incident.items()}
    for run_id in story.runs:
        failures, unknowns = outcome.findings.get(run_id, []), outcome.unknowns.get(run_id, [])
        if failures or unknowns:
            echo(f"   run {run_id} ({names.get(run_id, 'quiet run')}):")
        for line in failures:
            echo(f"     FAIL {line}")
        for line in unknowns:
            echo(f"     UNKNOWN {line}")
    echo(f"   {outcome.summary}")

    plan = _plan(conn, settings, story)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome.plan, outcome.plan_path = plan, out_dir / f"undo-plan-{plan.digest[:12]}.json"
    write_plan(plan, outcome.plan_path)
    echo(f"\n3. undo plan for the incident ({plan.digest[:16]}..., {outcome.plan_path})")
    for step in plan.ordered_steps():
        echo("   " + render_step(step))
    for item in plan.residue:
        echo(f"   residue {item.step_id} {item.tool}: {item.residue}")

    bundle = out_dir / f"evidence-{uuid.uuid4().hex[:8]}"
    since, until = ids.format_timestamp(story.since), ids.format_timestamp(story.until)
    result = export_bundle(
        conn, settings, ExportParams(since=since, until=until, out=bundle, exported_by="demo")
    )
    root = story.authority.trust_root if story.authority is not None else None
    # the auditor's copy of the log key, as handed over out of band (keys/log.key.pub)
    trust = out_dir / "log.key.pub"
    trust.write_text(log_signer(settings).vkey + "\n", encoding="utf-8")
    checked = verify_bundle(bundle, trust, trust_root=root)
    outcome.bundle, outcome.bundle_valid = bundle, checked.verdict == "OK"
    echo(f"\n4. evidence bundle: {result.events} events -> {bundle}")
    state = "VALID" if checked.verdict == "OK" else f"{checked.verdict}: {checked.problems[:1]}"
    echo(
        f"   ledger verify-bundle {bundle} --trust log.key.pub --trust-root ...: {state} "
        "(offline, no database)"
    )
    echo(f"   who approved and who started each run, judged offline: {checked.authority.summary()}")
    return outcome
