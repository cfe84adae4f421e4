"""Many concurrent `GET /api/events/stream` clients, each from its own loopback address (so
each is its own anonymous caller, as distinct visitors are), timing when a text reaches
each of them."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import resource
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.bench.procs import BenchError

FIRST_CLIENT = ipaddress.IPv4Address("127.0.0.2")  # all of 127.0.0.0/8 is this machine
OPEN_SECONDS = 60.0


def source_address(n: int) -> str:
    """The n-th client's own loopback address."""
    return str(FIRST_CLIENT + n)


@dataclass
class Client:
    """One stream: the status it was answered, and what it received, when."""

    status: int | str | None = None
    received: bytearray = field(default_factory=bytearray)
    ends: list[tuple[int, float]] = field(default_factory=list)  # (length so far, time)

    def arrival(self, needle: bytes) -> float | None:
        """perf_counter time by which `needle` had arrived whole, or None."""
        at = self.received.find(needle)
        if at < 0:
            return None
        end = at + len(needle)
        return next(t for length, t in self.ends if length >= end)


class StreamClients:
    """K clients on an event loop of their own thread; `open` waits for every answer."""

    def __init__(self, host: str, port: int, count: int) -> None:
        self.host, self.port = host, port
        self.clients = [Client() for _ in range(count)]
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._tasks: list = []

    def open(self) -> Counter:
        """Connect every client; wait until each has its answer; how many got each status."""
        allow_open_files(len(self.clients) + 256)
        self._thread.start()
        # Held here: the loop keeps only weak references to its tasks, and a task nothing
        # else holds may be collected mid-connect (its client then never answered).
        self._tasks = [
            asyncio.run_coroutine_threadsafe(self._run(n, client), self._loop)
            for n, client in enumerate(self.clients)
        ]
        deadline = time.monotonic() + OPEN_SECONDS
        while any(c.status is None for c in self.clients):
            if time.monotonic() > deadline:
                raise BenchError("event streams: not every client was answered in time")
            time.sleep(0.02)
        return Counter(c.status for c in self.clients)

    @property
    def streaming(self) -> list[Client]:
        return [c for c in self.clients if c.status == 200]

    def wait_for(self, needle: str, since: float, timeout: float) -> list[float | None]:
        """Seconds from `since` until `needle` reached each streaming client (None: never)."""
        wanted = needle.encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.arrival(wanted) is not None for c in self.streaming):
                break
            time.sleep(0.01)
        arrivals = [c.arrival(wanted) for c in self.streaming]
        return [None if t is None else t - since for t in arrivals]

    def close(self) -> None:
        """Disconnect every client and stop their loop."""
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_cancel_all(), self._loop).result(timeout=30)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self._loop.close()

    async def _run(self, n: int, client: Client) -> None:
        """Ask for the stream (HTTP/1.0: the body is the frames as they come), then read."""
        writer = None
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(source_address(n), 0)
            )
            writer.write(
                f"GET /api/events/stream HTTP/1.0\r\nHost: {self.host}:{self.port}\r\n"
                "Accept: text/event-stream\r\n\r\n".encode()
            )
            await writer.drain()
            status_line = await reader.readline()
            while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass  # the headers
            parts = status_line.split()
            client.status = int(parts[1]) if len(parts) > 1 else "no answer"
            if client.status != 200:
                return
            while chunk := await reader.read(65536):
                client.received += chunk
                client.ends.append((len(client.received), time.perf_counter()))
        except OSError as exc:
            if client.status is None:
                client.status = type(exc).__name__
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


def allow_open_files(wanted: int) -> None:
    """Raise this process's soft open-file limit (toward the hard one) to `wanted` sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        top = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, top), hard))


async def _cancel_all() -> None:
    """Cancel every client's task on this loop and wait until each has closed its socket."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
