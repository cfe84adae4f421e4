"""A webhook request's HTTP: each connection goes to the address that was checked, while the
request names the host (Host header, TLS server name and certificate); refused targets are
never connected to."""

from __future__ import annotations

import shlex
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from tests.receiver import Receiver, wait_threads_gone
from vellum.live.delivery import Clients

HOST = "hooks.test"  # `.test` is reserved: only the tests' own name server answers for it


class NameServer:
    """Answers a name with the first addresses, then with the others (as a name server
    run for DNS rebinding does), and counts the lookups; any other name does not exist."""

    def __init__(self, first: list[str], then: list[str] | None = None) -> None:
        self.answers = [first, then or first]
        self.lookups = 0

    def __call__(self, host: str, port: int | None) -> list[str]:
        if not host.endswith(".test"):
            raise OSError(f"{host}: no such name")
        self.lookups += 1
        return self.answers[min(self.lookups, 2) - 1]


@pytest.fixture(autouse=True)
def _no_stray_threads():
    before = set(threading.enumerate())
    yield
    wait_threads_gone(before)


def post(clients: Clients, url: str, n: int = 0):
    return clients.post(url, f"evt_{n}", b'{"event": "ping"}', "s3cret")


def test_connections_go_to_the_checked_address_and_name_the_host():
    # Two receivers on one port: the address the name gave first, and the one it gives after.
    with Receiver(host="127.0.0.1") as checked, Receiver(checked.port, "127.0.0.2") as later:
        dns = NameServer(["127.0.0.1"], then=["127.0.0.2"])
        url = f"http://{HOST}:{checked.port}/hook"
        with Clients(allow_private=True, resolve=dns) as clients:
            outcomes = [post(clients, url, n) for n in range(3)]
    assert [o.status for o in outcomes] == [200, 200, 200]
    assert dns.lookups == 1
    assert (checked.attempts, later.attempts) == (3, 0)
    assert {r.headers["host"] for r in checked.received} == {f"{HOST}:{checked.port}"}
    assert checked.connections == 1


@pytest.mark.parametrize(
    "addresses",
    [["127.0.0.1"], ["::1"], ["10.1.2.3"], ["192.168.0.7"], ["169.254.169.254"], ["fe80::1%1"]],
)
def test_a_name_resolving_to_a_private_address_is_refused_before_connecting(addresses):
    with Receiver() as receiver:
        url = f"http://{HOST}:{receiver.port}/hook"
        with Clients(allow_private=False, resolve=NameServer(addresses)) as clients:
            outcome = post(clients, url)
    assert not outcome.ok and outcome.status is None
    assert "a private address (set VELLUM_ALLOW_PRIVATE_WEBHOOKS=1" in outcome.error
    assert receiver.connections == 0


def test_a_name_that_does_not_resolve_is_a_failed_attempt():
    with Clients(allow_private=True, resolve=NameServer(["127.0.0.1"])) as clients:
        outcome = post(clients, "http://hooks.invalid/hook")
    assert not outcome.ok and outcome.status is None
    assert outcome.error.startswith("PrivateTarget: cannot resolve hooks.invalid")


def test_a_redirect_is_a_failed_attempt_not_followed():
    with Receiver() as moved, Receiver() as elsewhere:
        moved.status, moved.location = 307, elsewhere.url
        with Clients(allow_private=True) as clients:
            outcome = post(clients, moved.url)
    assert not outcome.ok
    assert (outcome.status, outcome.error, outcome.response) == (307, "HTTP 307", "ok")
    assert (moved.attempts, elsewhere.attempts) == (1, 0)


def openssl(command: str, cwd: Path) -> None:
    args = ["openssl", *shlex.split(command)]
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def certificates(tmp_path, monkeypatch) -> ssl.SSLContext:
    """A certificate authority the system trusts (SSL_CERT_FILE), and the receiver's TLS
    context with a certificate it signed for HOST."""
    key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
    openssl(f"req -x509 {key} -keyout ca.key -out ca.pem -subj /CN=Test-authority", tmp_path)
    openssl(f"req {key} -keyout host.key -out host.csr -subj /CN={HOST}", tmp_path)
    (tmp_path / "host.ext").write_text(f"subjectAltName=DNS:{HOST}\n")
    openssl(
        "x509 -req -in host.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile host.ext -out host.pem",
        tmp_path,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "host.pem", tmp_path / "host.key")
    return context


def test_https_at_the_checked_address_checks_the_certificate_of_the_host(certificates):
    with Receiver(tls=certificates) as receiver:
        with Clients(allow_private=True, resolve=NameServer(["127.0.0.1"])) as clients:
            good = post(clients, f"https://{HOST}:{receiver.port}/hook")
            # The same address under another name: its certificate is not that name's.
            other = post(clients, f"https://other.test:{receiver.port}/hook")
    assert good.ok, good.error
    assert receiver.server_names == [HOST, "other.test"]
    assert not other.ok and other.status is None
    assert "certificate verify failed" in other.error
    assert receiver.attempts == 1
