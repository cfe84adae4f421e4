"""Pruning the state store, so that it does not grow for ever with a busy site.

What goes: events older than `retention.events` days once every endpoint is done with
them (delivered or dead; never one still pending, never one the dispatcher has not fanned
out yet), delivery attempts older than `retention.deliveries` days, key activity older
than `retention.activity` days, and OAuth refresh tokens past their expiry. The live process
prunes at start and hourly; `vellum prune` does it by hand.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING

from vellum.live.deliveries import FANOUT_CURSOR
from vellum.live.loop import Loop
from vellum.site.site import Site
from vellum.store.state import StateStore, iso

if TYPE_CHECKING:
    from vellum.services import Vellum

INTERVAL = 3600.0


def retention_of(site: Site) -> dict[str, float]:
    """The `retention:` section of vellum.yml, in days; 0 keeps for ever (the schema checks
    it: a ConfigError names what is wrong)."""
    return site.setting("retention").model_dump()


def prune(state: StateStore, days: dict[str, float], now: float | None = None) -> dict[str, int]:
    """Delete what the retention allows, in one transaction; returns rows deleted per kind."""
    now = time.time() if now is None else now

    def cutoff(name: str) -> str | None:
        if not days.get(name):
            return None
        return iso(dt.datetime.fromtimestamp(now - days[name] * 86400, dt.UTC))

    counts = dict.fromkeys(("events", "deliveries", "activity", "expired"), 0)
    with state.transaction() as db:
        if before := cutoff("events"):
            db.lock("cursor:fanout")  # what is fanned out stays so while events go
            row = db.execute(
                "SELECT value FROM cursors WHERE name = ?", (FANOUT_CURSOR,)
            ).fetchone()
            fanned = int(row["value"]) if row else 0
            done = (
                "SELECT seq FROM events e WHERE e.created_at < ? AND e.seq <= ? AND NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.seq = e.seq AND d.state = 'pending')"
            )
            db.execute(f"DELETE FROM deliveries WHERE seq IN ({done})", (before, fanned))
            counts["events"] = db.execute(
                f"DELETE FROM events WHERE seq IN ({done})", (before, fanned)
            ).rowcount
        if before := cutoff("deliveries"):
            counts["deliveries"] = db.execute(
                "DELETE FROM delivery_attempts WHERE at < ?", (before,)
            ).rowcount
        if before := cutoff("activity"):
            counts["activity"] = db.execute(
                "DELETE FROM key_activity WHERE at < ?", (before,)
            ).rowcount
        # Codes and token revocations are pruned where they are written.
        counts["expired"] = db.execute(
            "DELETE FROM oauth_refresh_tokens WHERE expires_at < ?", (int(now),)
        ).rowcount
    return counts


class Pruner(Loop):
    """Prunes the state store at start and every hour (run by the live process)."""

    name = "vellum-pruner"

    def __init__(self, vellum: Vellum, interval: float = INTERVAL) -> None:
        super().__init__(interval)
        self.vellum = vellum

    def cycle(self) -> None:
        prune(self.vellum.state, retention_of(self.vellum.site))
