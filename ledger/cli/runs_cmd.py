"""`ledger runs`: the runs in the ledger, newest first, filtered, sorted and limited in SQL.

Why a page with a count line: on a real ledger the full list is thousands of lines; the engineer
at 3 a.m. wants the newest, the failing, or one agent's runs, and to know how much was left out
(`showing 50 of 10000 runs`). Exercise runs (tenant `exercise-*`, tabletop drills) are hidden
unless `--exercises`, so a drill never reads as an incident.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.cli.common import (
    JsonOption,
    RunsSince,
    RunsUntil,
    TrustRootOption,
    connection,
    emit_json,
    say,
    settings_from,
    table,
    when,
)
from ledger.errors import InputError
from ledger.terminal import printable

if TYPE_CHECKING:
    import psycopg

    from ledger.store.runs import RunFilter, RunsPage

__all__ = ["app"]

app = typer.Typer(add_completion=False)

DEFAULT_LIMIT = 50


@app.command("runs")
def runs(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent's runs.")] = None,
    initiator: Annotated[
        str | None, typer.Option("--initiator", help="Only runs started for this user.")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="Only runs in this status (repeatable): succeeded, failed, cancelled, stopped, "
            "abandoned, running, suspended.",
        ),
    ] = None,
    failing: Annotated[
        bool,
        typer.Option(
            "--failing",
            help="Only runs with a failing rule, by the policy in force (what `ledger check` "
            "reports; checks every matching run, so narrow with --since or --agent).",
        ),
    ] = False,
    since: RunsSince = None,
    until: RunsUntil = None,
    limit: Annotated[
        int, typer.Option("--limit", help="Show at most this many runs (at least 1).")
    ] = DEFAULT_LIMIT,
    sort: Annotated[
        str,
        typer.Option(
            "--sort",
            help="started (newest first), agent, status or events (most first); "
            "ties newest first.",
        ),
    ] = "started",
    exercises: Annotated[
        bool, typer.Option("--exercises", help="Include tabletop exercise runs (exercise-*).")
    ] = False,
    json_out: JsonOption = False,
    trust_root_file: TrustRootOption = None,
) -> None:
    """List runs, newest first: id, agent, initiating user, started, status, event count, and a
    count line (`showing N of M runs`); above them, the active stops (`ledger stops`), one line
    each (a run's stop once it ended is moot: not shown)."""
    from ledger.store.runs import RUN_STATUSES, SORTS, RunFilter, runs_page

    statuses = tuple(dict.fromkeys(status or ()))
    bad = [s for s in statuses if s not in RUN_STATUSES]
    if bad:
        raise InputError(f"--status {printable(bad[0])!r} is not a run status "
                         f"(one of: {', '.join(RUN_STATUSES)})")
    if sort not in SORTS:
        raise InputError(f"--sort {printable(sort)!r} is not one of: {', '.join(SORTS)}")
    if limit < 1:
        raise InputError(f"--limit must be at least 1 (got {limit})")
    wanted = RunFilter(
        agent=agent, initiator=initiator, statuses=statuses, since=when(since, "--since"),
        until=when(until, "--until"), exercises=exercises, sort=sort, limit=limit,
    )
    conn = connection(ctx)
    if failing:
        wanted = _only_failing(ctx, conn, wanted, trust_root_file)
    page = runs_page(conn, wanted)
    if json_out:
        emit_json(_json(page))
        return
    _print(ctx, conn, page)


def _only_failing(
    ctx: typer.Context, conn: psycopg.Connection, wanted: RunFilter, root_file: Any
) -> RunFilter:
    """`wanted` narrowed to its runs that `ledger check` reports failing (the plug-in)."""
    from dataclasses import replace

    from ledger.authority.trust import trust_root
    from ledger.plugins import RULE_FAILURES, registered
    from ledger.store.runs import runs_page

    points = registered(RULE_FAILURES)
    if not points:
        raise InputError("--failing needs the policy checker (replay), which is not installed")
    check: Callable[..., frozenset[uuid.UUID]] = next(iter(points.values())).load()  # type: ignore[assignment]
    root = trust_root(root_file)
    candidates = runs_page(conn, replace(wanted, limit=None)).rows
    ids: Sequence[uuid.UUID] = [r.run_id for r in candidates]
    return replace(wanted, only=frozenset(check(conn, settings_from(ctx), ids, root)))


def _json(page: RunsPage) -> dict[str, Any]:
    return {
        "total": page.total,
        "hidden_exercises": page.hidden,
        "runs": [
            {"run_id": str(r.run_id), "origin": r.origin, "agent": r.agent,
             "initiating_user": r.initiating_user, "started_at": r.started_at,
             "status": r.status if r.has_start else f"no run.started ({r.status})",
             "event_count": r.event_count, "imported": r.imported, "exercise": r.exercise}
            for r in page.rows
        ],
    }


def _print(ctx: typer.Context, conn: psycopg.Connection, page: RunsPage) -> None:
    from ledger.cli.stops_cmd import stop_lines

    for line in stop_lines(_live_stops(ctx, conn)):
        say(line)
    typer.echo(table(  # every cell through `printable`: agent and user are a writer's text
        [[str(r.run_id), printable(r.agent or "-"), printable(r.initiating_user or "-"),
          printable(r.started_at[:19] + "Z"), r.shown_status, str(r.event_count)]
         for r in page.rows],
        ["RUN", "AGENT", "USER", "STARTED", "STATUS", "EVENTS"],
    ))
    say(_count_line(page))


def _live_stops(ctx: typer.Context, conn: psycopg.Connection) -> list[Any]:
    """The active stops, less those of runs that have ended (moot), wherever those runs are."""
    from ledger.stopsread import active_stops
    from ledger.store.runs import RunFilter, runs_page

    stops = active_stops(conn, settings_from(ctx))
    targets: set[uuid.UUID] = set()
    for s in stops:
        kind, _, rest = s.target.partition(":")
        if kind == "run":
            try:
                targets.add(uuid.UUID(rest))
            except ValueError:
                continue
    if not targets:
        return list(stops)
    ended = runs_page(conn, RunFilter(only=frozenset(targets), exercises=True, limit=None))
    moot = {f"run:{r.run_id}" for r in ended.rows if r.status not in ("running", "suspended")}
    return [s for s in stops if s.target not in moot]


def _count_line(page: RunsPage) -> str:
    shown, total = len(page.rows), page.total
    noun = "run" if total == 1 else "runs"
    line = (f"showing {shown} of {total} {noun}; --limit/--since to see more"
            if shown < total else f"{total} {noun}")
    if page.hidden:
        runs_word = "run" if page.hidden == 1 else "runs"
        line += f" ({page.hidden} exercise {runs_word} hidden: --exercises)"
    return line
