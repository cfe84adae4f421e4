"""One webhook request: sign the body, refuse private targets, POST, report the outcome.

Each connection goes to an address the check passed: the host is looked up once, every
address of that answer is checked, and the socket is opened to one of exactly those, while
the request still names the host (the Host header, TLS SNI and the certificate check). A
name that answers otherwise a moment later (DNS rebinding) never reaches a private address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

TIMEOUT = 10.0
EXCERPT = 500
USER_AGENT = "Vellum-Webhooks/1"
# An idle connection is dropped before the 5 s after which many servers close theirs, so a
# delivery seldom goes out on a connection the endpoint is closing.
KEEPALIVE = 4.0

Resolver = Callable[[str, int | None], list[str]]


class PrivateTarget(Exception):
    """The URL's host does not resolve, or resolves to a private, loopback or link-local
    address."""


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: a status code or an error, and how long it took."""

    ok: bool
    status: int | None
    duration_ms: int
    error: str | None = None
    response: str | None = None


def signing_key(secret: str) -> bytes:
    """The secret's UTF-8 bytes, or for `whsec_…` the base64-decoded rest."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret.removeprefix("whsec_"))
    return secret.encode()


def sign(secret: str | None, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The Standard Webhooks headers, and with a secret both signatures."""
    headers = {"webhook-id": event_id, "webhook-timestamp": str(timestamp)}
    if secret:
        key = signing_key(secret)
        plain = hmac.new(key, body, hashlib.sha256).hexdigest()
        signed = f"{event_id}.{timestamp}.".encode() + body
        standard = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        headers["X-Vellum-Signature"] = f"sha256={plain}"
        headers["webhook-signature"] = f"v1,{standard}"
    return headers


def lookup(host: str, port: int | None) -> list[str]:
    """The host's addresses from one lookup by the system's resolver, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(
    host: str, port: int | None, allow_private: bool, resolve: Resolver = lookup
) -> list[str]:
    """Look the host up once; refuse it if any address is not public, unless allowed."""
    try:
        addresses = resolve(host, port)
    except OSError as exc:
        raise PrivateTarget(f"cannot resolve {host}: {exc}") from exc
    if not allow_private:
        for text in addresses:
            _refuse_private(host, text)
    return addresses


def _refuse_private(host: str, text: str) -> None:
    """Any address that is not public, an IPv6 zone aside, ends the delivery before it starts."""
    address = ipaddress.ip_address(text.split("%")[0])
    if not address.is_global or address.is_multicast:
        raise PrivateTarget(
            f"{host} resolves to {address}, a private address "
            "(set VELLUM_ALLOW_PRIVATE_WEBHOOKS=1 to allow)"
        )


def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to a non-public address, unless allowed."""
    if not allow_private:
        checked_addresses(urlsplit(url).hostname or "", None, allow_private)


class _PinnedBackend(httpcore.SyncBackend):
    """Opens each connection to an address of one checked lookup, never by the host's name."""

    def __init__(self, allow_private: bool, resolve: Resolver) -> None:
        self.allow_private = allow_private
        self.resolve = resolve

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable | None = None,
    ) -> httpcore.NetworkStream:
        """The first of the checked addresses that accepts, in the lookup's order (as a
        connection by name tries them)."""
        error: Exception | None = None
        for address in checked_addresses(host, port, self.allow_private, self.resolve):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address")


class _PinnedTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose connections go to checked addresses."""

    def __init__(self, allow_private: bool, resolve: Resolver) -> None:
        # Not httpx's __init__: its pool cannot be told how to open connections. This is
        # the one pool its methods use.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),  # the system's certificate authorities
            keepalive_expiry=KEEPALIVE,
            network_backend=_PinnedBackend(allow_private, resolve),
        )


class Clients:
    """One HTTP client per endpoint origin (scheme, host, port), so that deliveries to an
    endpoint reuse its connection; whoever holds them closes them when done."""

    def __init__(self, allow_private: bool, resolve: Resolver = lookup) -> None:
        self.allow_private = allow_private
        self.resolve = resolve
        self._clients: dict[tuple, httpx.Client] = {}
        self._lock = threading.Lock()

    def post(self, url: str, event_id: str, body: bytes, secret: str | None) -> Outcome:
        """POST a signed event body; any 2xx is success, everything else a failure to retry."""
        started = time.monotonic()
        headers = {"Content-Type": "application/json"}
        headers.update(sign(secret, event_id, int(time.time()), body))
        try:
            with self._client(url).stream("POST", url, content=body, headers=headers) as answer:
                excerpt = _excerpt(answer)
        except (httpx.HTTPError, httpx.InvalidURL, PrivateTarget, OSError, ValueError) as exc:
            return Outcome(False, None, _ms(started), f"{type(exc).__name__}: {exc}")
        status = answer.status_code
        ok = 200 <= status < 300
        return Outcome(ok, status, _ms(started), None if ok else f"HTTP {status}", excerpt)

    def retain(self, urls: Iterable[str]) -> None:
        """Close the clients of origins none of these URLs has (endpoints since removed)."""
        keep = {_origin(url) for url in urls}
        with self._lock:
            gone = [origin for origin in self._clients if origin not in keep]
            closing = [self._clients.pop(origin) for origin in gone]
        for client in closing:
            client.close()

    def close(self) -> None:
        """Close every client and its connections."""
        self.retain([])

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _client(self, url: str) -> httpx.Client:
        origin = _origin(url)
        with self._lock:
            client = self._clients.get(origin)
            if client is None:
                client = self._clients[origin] = _new_client(self.allow_private, self.resolve)
            return client


def _new_client(allow_private: bool, resolve: Resolver) -> httpx.Client:
    """A client that never follows a redirect (it could lead to a private address) and takes
    no proxy from the environment (it would connect instead of the checked address)."""
    return httpx.Client(
        transport=_PinnedTransport(allow_private, resolve),
        timeout=TIMEOUT,
        follow_redirects=False,
        trust_env=False,
        # Bodies as sent: an excerpt of the answer is kept, and an answer is never lost to
        # a body that does not decompress.
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )


def _origin(url: str) -> tuple:
    """Scheme, host and port: what one client's connections are for (a bad URL: its text)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return (url,)
    return (parsed.scheme, parsed.host, parsed.port)


def _excerpt(answer: httpx.Response) -> str:
    """The first EXCERPT bytes of the answer's body, as text; the rest is not read."""
    head = b""
    for chunk in answer.iter_raw():
        head += chunk
        if len(head) >= EXCERPT:
            break
    return head[:EXCERPT].decode("utf-8", "replace")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
