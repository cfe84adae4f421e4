"""A real webhook receiver for tests: an HTTP server on a loopback port, in a thread."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    tls: ssl.SSLContext | None = None

    def get_request(self):
        """The connection, with TLS its handshake left to the handler's thread."""
        connection, address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request, client_address) -> None:
        """A client that goes away (a refused certificate, a killed server) is not news."""


class Receiver:
    """Collects POSTs; `status` is what it answers; down() closes the port and every open
    connection, up() reopens it. It keeps connections open (HTTP/1.1) as most receivers do
    and counts them; with `tls` it speaks HTTPS and notes the server name each client asks."""

    def __init__(
        self, port: int = 0, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None
    ) -> None:
        self.port = port
        self.host = host
        self.tls = tls
        self.status = 200
        self.location: str | None = None  # sent with the answer, for a redirect
        self.received: list[Received] = []
        self.attempts = 0
        self.connections = 0
        self.server_names: list[str | None] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if tls is not None:
            tls.sni_callback = self._note_server_name

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}/hook"

    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def up(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver._lock:
                    receiver.connections += 1
                    receiver._open.add(self.connection)

            def finish(self):
                with receiver._lock:
                    receiver._open.discard(self.connection)
                super().finish()

            def do_POST(self):  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.attempts += 1
                    status = receiver.status
                    if 200 <= status < 300:
                        headers = {k.lower(): v for k, v in self.headers.items()}
                        receiver.received.append(Received(headers, body))
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self._server = _Server((self.host, self.port), Handler)
        self._server.tls = self.tls
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = self._thread = None
        with self._lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _note_server_name(self, ssl_socket, server_name: str | None, context) -> None:
        with self._lock:
            self.server_names.append(server_name)

    def __enter__(self) -> Receiver:
        return self.up()

    def __exit__(self, *exc_info) -> None:
        self.down()

    def events(self) -> list[dict]:
        with self._lock:
            return [r.payload for r in self.received]

    def wait_for(self, predicate, timeout: float = 15.0) -> list[dict]:
        """Wait until predicate(events) holds; fail with what arrived if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events()
            if predicate(found):
                return found
            time.sleep(0.02)
        raise AssertionError(f"timed out; received: {[e['event'] for e in self.events()]}")


def wait_threads_gone(before: set[threading.Thread], timeout: float = 5.0) -> None:
    """Fail when a thread started during a test is still alive after it."""
    deadline = time.monotonic() + timeout
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"threads outlived the test: {[t.name for t in extra]}")
        time.sleep(0.02)
