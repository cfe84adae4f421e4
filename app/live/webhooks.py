"""Webhook endpoints: those in vellum.yml (`source: site`) and those added by the API."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from vellum.errors import Detail, NotFound, SiteError, ValidationError
from vellum.live.delivery import PrivateTarget, check_target
from vellum.site.schema import DEFAULT_RETRY
from vellum.store.events import matches, valid_pattern
from vellum.store.state import StateStore, iso, utcnow

if TYPE_CHECKING:
    from vellum.services import Vellum

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class MissingSecret(Exception):
    """A `${ENV_NAME}` secret whose variable is unset: never send such events unsigned."""


class WebhookNotFound(NotFound):
    def __init__(self, webhook_id: str) -> None:
        super().__init__(f"No webhook {webhook_id!r}")


@dataclass(frozen=True)
class Endpoint:
    """Where to POST which events, how to sign them and how long to keep trying.

    Endpoints are set up by admins (the API) or by writers (vellum.yml), who all may read
    drafts; so an endpoint is a readers-of-drafts audience: it gets drafts' events too,
    and records with every relation, as stored (see vellum.site.audience).
    """

    id: str
    url: str
    events: list[str]
    models: list[str] | None = None
    secret: str | None = None
    retry: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_RETRY))
    source: str = "api"

    def wants(self, name: str, model: str | None) -> bool:
        """Whether this endpoint takes an event (its names, then its models for content)."""
        if not matches(self.events, name):
            return False
        return self.models is None or model is None or model in self.models

    def signing_secret(self) -> str | None:
        """The secret, with `${ENV_NAME}` read from the environment now (unset: an error)."""
        if self.secret is None:
            return None
        ref = ENV_REF.match(self.secret)
        if ref is None:
            return self.secret
        value = os.environ.get(ref.group(1))
        if not value:
            raise MissingSecret(f"the secret's variable {ref.group(1)} is not set")
        return value

    def as_dict(self) -> dict[str, Any]:
        """The endpoint as the API shows it: never its secret."""
        return {
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "models": self.models,
            "retry": self.retry,
            "source": self.source,
            "signed": self.secret is not None,
        }


def site_endpoints(site, *, skip_invalid: bool = False) -> list[Endpoint]:
    """The endpoints vellum.yml declares.

    A wrong entry raises, unless `skip_invalid`: then it is left out (`vellum validate`
    and /api/_status name it) and the others are served.
    """
    entries = site.settings.get("webhooks")
    found = []
    for n in range(len(entries) if isinstance(entries, list) else 0):
        try:
            found.append(site_endpoint(site, n))
        except (ValidationError, SiteError):
            if not skip_invalid:
                raise
    return found


def site_endpoint(site, n: int) -> Endpoint:
    """vellum.yml's n-th webhook, typed by the schema and checked; its id follows from its
    URL and place."""
    spec = check_spec(site.setting("webhooks", n).model_dump(mode="json"), site, f"webhooks[{n}]")
    digest = hashlib.sha256(f"{spec['url']}#{n}".encode()).hexdigest()[:12]
    return Endpoint(id=f"site_{digest}", source="site", **spec)


def list_endpoints(vellum: Vellum) -> list[Endpoint]:
    """Every endpoint: the site's first, then the API's in creation order.

    vellum.yml is read again when it changed, so a webhook committed by hand while the
    server runs is listed and delivered at once, by every process.
    """
    vellum.refresh_site()
    rows = vellum.state.query("SELECT * FROM webhooks ORDER BY created_at, id")
    site = site_endpoints(vellum.site, skip_invalid=True)
    return site + [_endpoint(r) for r in rows]


def get_endpoint(vellum: Vellum, webhook_id: str) -> Endpoint:
    """One endpoint by id, from either source."""
    for endpoint in list_endpoints(vellum):
        if endpoint.id == webhook_id:
            return endpoint
    raise WebhookNotFound(webhook_id)


def create_endpoint(vellum: Vellum, raw: Any, created_by: str | None = None) -> Endpoint:
    """Add an API endpoint after checking its URL, filters and retry policy."""
    spec = check_spec(raw, vellum.site)
    _check_reachable(vellum, spec["url"])
    endpoint = Endpoint(id=f"wh_{secrets.token_hex(8)}", **spec)
    with vellum.state.transaction() as db:
        db.execute(
            "INSERT INTO webhooks (id, url, events, models, secret, retry, created_by, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*_columns(endpoint), created_by, iso(utcnow())),
        )
    return endpoint


def update_endpoint(vellum: Vellum, webhook_id: str, raw: Any) -> Endpoint:
    """Change an API endpoint; fields left out keep their values."""
    current = _api_endpoint(vellum, webhook_id)
    if not isinstance(raw, dict):
        raise ValidationError("Invalid webhook", [Detail(None, "expected a JSON object")])
    merged = {
        "url": current.url,
        "events": current.events,
        "models": current.models,
        "secret": current.secret,
        "retry": current.retry,
        **raw,
    }
    endpoint = Endpoint(id=webhook_id, **check_spec(merged, vellum.site))
    _check_reachable(vellum, endpoint.url)
    with vellum.state.transaction() as db:
        db.execute(
            "UPDATE webhooks SET url = ?, events = ?, models = ?, secret = ?, retry = ?"
            " WHERE id = ?",
            (*_columns(endpoint)[1:], webhook_id),
        )
    return endpoint


def delete_endpoint(vellum: Vellum, webhook_id: str) -> Endpoint:
    """Remove an API endpoint and its pending deliveries (the log stays)."""
    endpoint = _api_endpoint(vellum, webhook_id)
    with vellum.state.transaction() as db:
        db.execute("DELETE FROM webhooks WHERE id = ?", (webhook_id,))
        db.execute("DELETE FROM deliveries WHERE endpoint = ?", (webhook_id,))
    return endpoint


def _check_reachable(vellum: Vellum, url: str) -> None:
    """Refuse a private target now rather than at every delivery."""
    try:
        check_target(url, bool(vellum.config.get("ALLOW_PRIVATE_WEBHOOKS")))
    except PrivateTarget as exc:
        raise ValidationError("Refused webhook URL", [Detail("url", str(exc))]) from exc


def _api_endpoint(vellum: Vellum, webhook_id: str) -> Endpoint:
    endpoint = get_endpoint(vellum, webhook_id)
    if endpoint.source != "api":
        raise ValidationError(
            "This webhook is configured in vellum.yml",
            [Detail("id", "change it in vellum.yml, not through the API")],
        )
    return endpoint


def check_spec(raw: Any, site, where: str = "") -> dict[str, Any]:
    """Validate an endpoint's url, events, models, secret and retry; the cleaned values."""
    if not isinstance(raw, dict):
        raise ValidationError("Invalid webhook", [Detail(where or None, "expected an object")])
    problems: list[Detail] = []
    url = raw.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(Detail("url", "expected an http:// or https:// URL"))
    events = raw.get("events", ["*"])
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events or not all(_is_pattern(e) for e in events):
        problems.append(Detail("events", "expected event names, `*`, or create/update/delete"))
    models = raw.get("models")
    if models is not None and (
        not isinstance(models, list) or not all(m in site.models for m in models)
    ):
        problems.append(Detail("models", f"expected a list of: {', '.join(site.models)}"))
    secret = raw.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret):
        problems.append(Detail("secret", "expected a string"))
    retry = _check_retry(raw.get("retry"), problems)
    if problems:
        raise ValidationError(f"Invalid webhook {where}".strip(), problems)
    return {"url": url, "events": events, "models": models, "secret": secret, "retry": retry}


def _is_pattern(value: Any) -> bool:
    return isinstance(value, str) and valid_pattern(value)


def _check_retry(raw: Any, problems: list[Detail]) -> dict[str, float]:
    retry = dict(DEFAULT_RETRY)
    if raw is None:
        return retry
    if not isinstance(raw, dict) or set(raw) - set(DEFAULT_RETRY):
        problems.append(Detail("retry", "expected {max_attempts, backoff, max_delay}"))
        return retry
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(Detail(f"retry.{name}", "expected a positive number"))
        else:
            retry[name] = int(value) if name == "max_attempts" else float(value)
    return retry


def _columns(e: Endpoint) -> tuple:
    models = orjson.dumps(e.models).decode() if e.models is not None else None
    retry = orjson.dumps(e.retry).decode()
    return (e.id, e.url, orjson.dumps(e.events).decode(), models, e.secret, retry)


def _endpoint(row) -> Endpoint:
    return Endpoint(
        id=row["id"],
        url=row["url"],
        events=orjson.loads(row["events"]),
        models=orjson.loads(row["models"]) if row["models"] else None,
        secret=row["secret"],
        retry=orjson.loads(row["retry"]),
        source="api",
    )


def endpoint_state(state: StateStore, webhook_id: str) -> dict[str, int]:
    """How many of an endpoint's deliveries are pending, delivered and dead."""
    rows = state.query(
        "SELECT state, COUNT(*) AS n FROM deliveries WHERE endpoint = ? GROUP BY state",
        (webhook_id,),
    )
    return {r["state"]: r["n"] for r in rows}
