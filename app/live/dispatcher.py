"""The webhook dispatcher: fans events out and delivers what is due, retrying with backoff."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from vellum.live import deliveries
from vellum.live.delivery import Clients, Outcome
from vellum.live.loop import Loop
from vellum.live.webhooks import Endpoint, MissingSecret, list_endpoints

if TYPE_CHECKING:
    from vellum.services import Vellum

PARALLEL_ENDPOINTS = 4


class Dispatcher(Loop):
    """One per site (see vellum.live.leader): delivers each event to each endpoint, in order
    per key."""

    name = "vellum-dispatcher"

    def __init__(self, vellum: Vellum, interval: float = 0.2) -> None:
        super().__init__(interval)
        self.vellum = vellum
        self.allow_private = bool(vellum.config.get("ALLOW_PRIVATE_WEBHOOKS"))
        # One pool for the dispatcher's life: each new thread would open (and keep) its
        # own connection to the state store.
        self._pool = ThreadPoolExecutor(PARALLEL_ENDPOINTS, thread_name_prefix=self.name)
        # Kept for the dispatcher's life too: deliveries to an endpoint reuse its connection.
        self._clients = Clients(self.allow_private)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loop, then the delivery threads, then their connections."""
        super().stop(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._clients.close()

    def cycle(self) -> None:
        """Fan out new events, then attempt every due delivery, endpoints side by side."""
        endpoints = {e.id: e for e in list_endpoints(self.vellum)}
        self._clients.retain(e.url for e in endpoints.values())
        deliveries.fan_out(self.vellum.state, endpoints.values())
        now = time.time()
        groups = {e: deliveries.due(self.vellum.state, e, now) for e in endpoints}
        groups = {e: rows for e, rows in groups.items() if rows}
        if not groups:
            return
        futures = [
            self._pool.submit(self._deliver_all, endpoints[endpoint_id], rows)
            for endpoint_id, rows in groups.items()
        ]
        for future in futures:
            future.result()  # a failure is raised here, so the loop logs it

    def _deliver_all(self, endpoint: Endpoint, rows: list) -> None:
        for row in rows:
            if self.stopping.is_set():
                return
            outcome = self._post(endpoint, row)
            deliveries.record_attempt(self.vellum.state, endpoint, row, outcome)
            if outcome.status is None:
                return  # unreachable: leave the rest of this endpoint for a later cycle

    def _post(self, endpoint: Endpoint, row) -> Outcome:
        try:
            secret = endpoint.signing_secret()
        except MissingSecret as exc:
            return Outcome(False, None, 0, str(exc))
        return self._clients.post(endpoint.url, row["id"], row["payload"].encode(), secret)
