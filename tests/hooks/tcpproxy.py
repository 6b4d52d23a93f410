"""A real TCP proxy between the hooks and the shared test database, switchable to failure modes.

- `passing`: forwards both ways;
- `hung`: keeps every socket open (old and new) and forwards nothing: what a stalled server or
  a stalled middlebox looks like, and what TCP keepalives cannot detect (the proxy's kernel
  answers them);
- `down`: refuses new connections (the listening socket is closed) and drops open ones.

The shared server is never touched. Upstream is the test DSN's host: a Unix socket directory
(the embedded server) or a TCP host.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Any

from psycopg.conninfo import conninfo_to_dict, make_conninfo


class TcpProxy:
    """A threaded proxy on 127.0.0.1; `dsn` is the upstream DSN rewritten to go through it."""

    def __init__(self, upstream_dsn: str) -> None:
        params = conninfo_to_dict(upstream_dsn)
        host, port = str(params.get("host") or "localhost"), int(str(params.get("port") or 5432))
        self._unix = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else None
        self._tcp = (host, port)
        self.mode = "passing"
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self.dsn = make_conninfo(upstream_dsn, host="127.0.0.1", port=str(self.port))

    # -- switching ---------------------------------------------------------------------------
    def hang(self) -> None:
        self.mode = "hung"

    def down(self) -> None:
        self.mode = "down"
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._drop_pairs()

    def recover(self) -> None:
        was, self.mode = self.mode, "passing"
        if was == "down":
            self._listen()

    def close(self) -> None:
        self._closed.set()
        self.down()

    # -- plumbing ----------------------------------------------------------------------------
    def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._listener = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed: down() or close()
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _upstream(self) -> socket.socket:
        if self._unix is not None:
            up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            up.connect(self._unix)
            return up
        return socket.create_connection(self._tcp)

    def _serve(self, client: socket.socket) -> None:
        try:
            up = self._upstream()
        except OSError:
            client.close()
            return
        with self._lock:
            self._pairs.append((client, up))
        try:
            self._pump(client, up)
        finally:
            for s in (client, up):
                with contextlib.suppress(OSError):
                    s.close()

    def _pump(self, client: socket.socket, up: socket.socket) -> None:
        peers: dict[Any, socket.socket] = {client: up, up: client}
        while not self._closed.is_set():
            if self.mode == "hung":  # hold everything, forward nothing
                self._closed.wait(0.05)
                continue
            if self.mode == "down":
                return
            readable, _, _ = select.select(list(peers), [], [], 0.05)
            for sock in readable:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                try:
                    peers[sock].sendall(data)
                except OSError:
                    return

    def _drop_pairs(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
