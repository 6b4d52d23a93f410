"""`ledger verify`: recompute the whole ledger and say whether it is intact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from ledger.cli.common import (
    JsonOption,
    about,
    duration_option,
    input_option,
    read_connection,
    settings_from,
)
from ledger.errors import ExitCode, InputError, KeyUnavailable

if TYPE_CHECKING:
    from ledger.backlog import Backlog
    from ledger.verify_report import VerifyReport

__all__ = ["app"]

app = typer.Typer(add_completion=False)


def _pin_source(value: str | None) -> str | None:
    """`--from-checkpoint`: `latest-verified`, or a note file checked like every input file."""
    from ledger.cli.common import check_input

    if value is not None and value != LATEST_VERIFIED:
        check_input(Path(value))
    return value


_pin_source.input_kind = "file"  # type: ignore[attr-defined]  # what tests/cli check for
LATEST_VERIFIED = "latest-verified"


PinOption = Annotated[
    Path | None,
    input_option("--pin", help="A checkpoint note saved earlier (`ledger checkpoint > FILE`)."),
]
TrustOption = Annotated[
    list[Path] | None,
    input_option("--trust", help="File of trusted log vkeys (one per line); repeatable."),
]
WitnessKeyOption = Annotated[
    list[Path] | None,
    input_option(
        "--witness-key", help="Witness vkey file; the latest checkpoint must be cosigned by it."
    ),
]
JobsOption = Annotated[
    int,
    typer.Option(
        "--jobs",
        metavar="N",
        help="Worker processes for the leaves, columns and run chains (same snapshot, same "
        "report as 1; at least 1; not with --from-checkpoint).",
    ),
]
MaxBacklogAgeOption = Annotated[
    str,
    duration_option(
        "--max-backlog-age",
        envvar="LEDGER_MAX_BACKLOG_AGE",
        help="Exit 6 when intake holds events older than this and no sequencer runs.",
    ),
]
FromCheckpointOption = Annotated[
    str | None,
    typer.Option(
        "--from-checkpoint",
        metavar="FILE|latest-verified",
        callback=_pin_source,
        help="Verify only what follows a checkpoint verified earlier: a note file "
        "(`ledger checkpoint > FILE`) or latest-verified (the --state directory).",
    ),
]
StateOption = Annotated[
    Path | None,
    typer.Option(
        "--state",
        metavar="DIR",
        envvar="LEDGER_VERIFY_STATE",
        help="Where the newest verified checkpoints are kept, outside the database "
        "(default: <home>/verified).",
    ),
]


@app.command("verify")
def verify(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    pin: PinOption = None,
    trust: TrustOption = None,
    witness_key: WitnessKeyOption = None,
    jobs: JobsOption = 1,
    max_backlog_age: MaxBacklogAgeOption = "60s",
    from_checkpoint: FromCheckpointOption = None,
    state: StateOption = None,
    json_out: JsonOption = False,
) -> None:
    """Recompute every leaf, run chain, tree root and checkpoint signature.

    Exit 0 when valid, 1 when not (naming the first bad seq), 2 for usage errors, 3 when the
    database cannot be reached, 4 when no trusted log key is available, 6 when the ledger is
    valid but acknowledged events have waited in intake longer than --max-backlog-age with no
    sequencer running (the backlog is reported whenever intake is not empty).
    """
    from ledger.backlog import read_backlog
    from ledger.verify import trusted_verifiers
    from ledger.verify_parallel import verify_parallel
    from ledger.when import parse_duration

    settings = settings_from(ctx)
    bound = parse_duration(max_backlog_age, "--max-backlog-age").total_seconds()
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, not {jobs}")
    verifiers = trusted_verifiers(settings, trust or [])
    if not verifiers:
        raise KeyUnavailable(
            f"no trusted log key: {settings.log_key_path}.pub is missing; pass --trust FILE"
        )
    witnesses = _witnesses(witness_key or [])
    if from_checkpoint is not None:
        if pin is not None or witness_key:
            raise InputError("--from-checkpoint cannot be combined with --pin or --witness-key")
        if jobs != 1:
            raise InputError("--from-checkpoint verifies only the new events in one process: "
                             "drop --jobs")  # fmt: skip
        _incremental(ctx, from_checkpoint, state, verifiers, json_out, bound)
        return
    conn = read_connection(ctx)
    pinned = _pinned(conn, pin, verifiers, json_out) if pin is not None else None
    report = verify_parallel(
        conn, settings, jobs=jobs, verifiers=verifiers, pin=pinned, witnesses=witnesses
    )
    _remember(conn, settings, state, report, verifiers)
    backlog = read_backlog(conn, bound)
    typer.echo(_output(report, backlog, json_out))
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.INVALID))
    if backlog.stalled:
        raise typer.Exit(int(ExitCode.STALLED))


def _witnesses(paths: list[Path]) -> list[Any]:
    """The witness vkeys of `--witness-key` files (one per line, `#` comments)."""
    from ledger.witness import CosignatureVerifier

    with about("bad witness key file"):
        return [
            CosignatureVerifier.from_vkey(line.strip())
            for path in paths
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        ]


def _pinned(
    conn: Any, source: Path | str, verifiers: Any, json_out: bool, note: bytes = b""
) -> Any:
    """A `--pin` / `--from-checkpoint` note opened with the key ring its log endorses (exit 2
    when malformed; `rewritten`, exit 1, when no endorsed key signed it)."""
    from ledger.trustroot import pinned_rewritten
    from ledger.verify_incremental import open_pin

    with about(f"pinned checkpoint {source} is not valid"):
        opened = open_pin(conn, note or Path(source).read_bytes(), verifiers)
    if isinstance(opened, str):
        typer.echo(pinned_rewritten(opened, json_out))
        raise typer.Exit(int(ExitCode.INVALID))
    return opened


def _remember(
    conn: Any, settings: Any, state: Path | None, report: VerifyReport, verifiers: Any
) -> None:
    """A verify that found the ledger intact records its newest checkpoints outside the
    database (ledger.verified_state)."""
    from ledger.verified_state import VerifiedState, state_dir
    from ledger.verify_incremental import record_verified

    record_verified(conn, VerifiedState(state_dir(settings, state)), report, verifiers)


def _incremental(  # noqa: PLR0917 - the options of `verify --from-checkpoint`
    ctx: typer.Context,
    source: str,
    state: Path | None,
    verifiers: Any,
    json_out: bool,
    bound: float,
) -> None:
    """`verify --from-checkpoint`: the pin(s), consistency, then only the new events."""
    from ledger.backlog import read_backlog
    from ledger.verified_state import VerifiedState, state_dir
    from ledger.verify_incremental import incremental_line, verify_incremental
    from ledger.verify_report import dumps

    settings = settings_from(ctx)
    kept = VerifiedState(state_dir(settings, state))
    if source == LATEST_VERIFIED:
        notes = [r.note for r in kept.require_all().values()]
    else:
        notes = [Path(source).read_bytes()]
    conn = read_connection(ctx)
    pins = [_pinned(conn, source, verifiers, json_out, note) for note in notes]
    report = verify_incremental(
        conn, settings, pins, verifiers=verifiers, every_origin=source == LATEST_VERIFIED
    )
    _remember(conn, settings, state, report, verifiers)
    backlog = read_backlog(conn, bound)
    if json_out:
        merged = {**orjson.loads(dumps(report)), "backlog": backlog.as_dict()}
        typer.echo(orjson.dumps(merged, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(incremental_line(report) + (f"\n{backlog.line()}" if backlog.count else ""))
    if report.status != "ok":
        raise typer.Exit(int(ExitCode.INVALID))
    if backlog.stalled:
        raise typer.Exit(int(ExitCode.STALLED))


def _output(report: VerifyReport, backlog: Backlog, json_out: bool) -> str:
    """The report line (plus the backlog line when intake is not empty), or the JSON report with
    a `backlog` object."""
    from ledger.verify import report_line
    from ledger.verify_report import dumps

    if json_out:
        merged = {**orjson.loads(dumps(report)), "backlog": backlog.as_dict()}
        return orjson.dumps(merged, option=orjson.OPT_INDENT_2).decode()
    return report_line(report) + (f"\n{backlog.line()}" if backlog.count else "")
