"""Events: what happened to the site, as dataclasses with a name, before any delivery."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from vellum.errors import Detail, ValidationError
from vellum.site.models import FieldError, check_size
from vellum.store.state import iso, utcnow

# Families of event names; `custom.<name>` is the one an admin may send.
FAMILIES = ("content.", "media.", "user.", "key.", "system.", "index.", "sync.", "custom.")
SINGLE = ("commit", "preview")
SHORT = {"create": "content.created", "update": "content.updated", "delete": "content.deleted"}
CUSTOM_NAME = re.compile(r"^custom\.[A-Za-z0-9_.-]{1,100}$")


def new_event_id() -> str:
    """A unique, roughly time-ordered event id (also the Standard Webhooks `webhook-id`)."""
    return f"evt_{int(time.time() * 1000):013x}{secrets.token_hex(8)}"


@dataclass
class Event:
    """One thing that happened: its name, its data, and what delivery order it belongs to."""

    name: str
    data: dict[str, Any]
    model: str | None = None
    commit: dict[str, Any] | None = None
    # Events with the same key are delivered in order to each endpoint (one record, one file).
    key: str | None = None
    draft: bool = False
    # A published record became a draft: readers of published records only are told
    # it is gone (without its new content); see vellum.api.events.
    unpublished: bool = False
    id: str = field(default_factory=new_event_id)
    timestamp: str = field(default_factory=lambda: iso(utcnow()))

    def payload(self) -> dict[str, Any]:
        """The JSON body a webhook receives and an SSE client reads."""
        return {
            "id": self.id,
            "event": self.name,
            "model": self.model,
            "timestamp": self.timestamp,
            "commit": self.commit,
            "data": self.data,
        }


def check_custom(name: str, data: Any) -> Event:
    """A custom event an admin sends: `custom.<name>` and an object of data."""
    if not isinstance(name, str) or not CUSTOM_NAME.match(name):
        raise ValidationError("Invalid event", [Detail("event", "expected custom.<name>")])
    if not isinstance(data, dict):
        raise ValidationError("Invalid event", [Detail("data", "expected an object")])
    try:
        check_size(data)
    except FieldError as exc:
        raise ValidationError("Invalid event", [Detail("data", str(exc))]) from exc
    return Event(name, data, key=name)


def matches(patterns: list[str], name: str) -> bool:
    """Whether an endpoint's event filter (full names, `*`, `family.*`, short) takes a name."""
    for pattern in patterns:
        pattern = SHORT.get(pattern, pattern)
        if pattern == name or (pattern == "*" and name != "preview"):
            return True
        if pattern.endswith(".*") and name.startswith(pattern[:-1]):
            return True
    return False


def valid_pattern(pattern: str) -> bool:
    """Whether a filter entry names events that can exist."""
    pattern = SHORT.get(pattern, pattern)
    if pattern in ("*", *SINGLE):
        return True
    return any(pattern.startswith(f) and len(pattern) > len(f) for f in FAMILIES)
