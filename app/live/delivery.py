"""One webhook request: sign the body, refuse private targets, POST, report the outcome."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT = 10.0
EXCERPT = 500
USER_AGENT = "Vellum-Webhooks/1"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: following it could reach a private address."""

    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


class PrivateTarget(Exception):
    """The URL resolves to a private, loopback or link-local address."""


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


def check_target(url: str, allow_private: bool) -> None:
    """Refuse a URL whose host resolves to a non-public address, unless allowed."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise PrivateTarget(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if not address.is_global or address.is_multicast:
            raise PrivateTarget(
                f"{host} resolves to {address}, a private address "
                "(set VELLUM_ALLOW_PRIVATE_WEBHOOKS=1 to allow)"
            )


def post(url: str, event_id: str, body: bytes, secret: str | None, allow_private: bool) -> Outcome:
    """POST a signed event body; any 2xx is success, everything else a failure to retry."""
    started = time.monotonic()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers.update(sign(secret, event_id, int(time.time()), body))
    try:
        check_target(url, allow_private)
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with _OPENER.open(request, timeout=TIMEOUT) as response:
            excerpt = response.read(EXCERPT).decode("utf-8", "replace")
            return Outcome(
                200 <= response.status < 300, response.status, _ms(started), None, excerpt
            )
    except urllib.error.HTTPError as err:
        excerpt = err.read(EXCERPT).decode("utf-8", "replace")
        return Outcome(False, err.code, _ms(started), f"HTTP {err.code}", excerpt)
    except (OSError, PrivateTarget, ValueError) as exc:
        return Outcome(False, None, _ms(started), f"{type(exc).__name__}: {exc}")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
