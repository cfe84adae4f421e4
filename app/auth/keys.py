"""API keys: scoped, expiring, IP-restricted, usage-limited; stored hashed, shown once.

A key reads `vk_<id>_<secret>`. The id is its visible prefix, used to find it; only
the SHA-256 of the whole key is stored (keys are 256-bit random, so a slow hash adds
nothing), and it is compared in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vellum.auth import key_use
from vellum.errors import Detail, Forbidden, NotFound, RateLimited, Unauthorized, ValidationError
from vellum.store import outbox
from vellum.store.events import Event
from vellum.store.state import StateStore, iso, parse_iso, utcnow

PREFIX = "vk_"
SCOPES = ("read", "read:drafts", "write", "admin")
# Scopes that come with another: whoever may overwrite a draft may read it.
IMPLIED = {"write": frozenset({"read:drafts"})}
DEFAULT_GRACE_SECONDS = 24 * 3600
_KEY = re.compile(r"^vk_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$")
_DURATION = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def with_implied(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes and those they imply, so that keys, roles and tokens agree on each check."""
    held = frozenset(scopes)
    return held.union(*(IMPLIED.get(scope, ()) for scope in held))


@dataclass(frozen=True)
class ApiKey:
    id: str
    name: str
    scopes: frozenset[str]
    expires_at: str | None
    allowed_ips: tuple[str, ...]
    usage_limit: int | None
    rate_limit: str | None
    connections: int | None  # requests in flight at once; None: the site's
    bandwidth: str | None  # bytes answered per period; None: the site's
    request_count: int
    last_used_at: str | None
    last_ip: str | None
    created_by: str | None
    created_at: str
    rotated_at: str | None
    revoked_at: str | None
    previous_expires_at: str | None

    @property
    def prefix(self) -> str:
        return f"{PREFIX}{self.id}"

    def as_dict(self) -> dict:
        """What the API shows: never the secret or its hash."""
        return {
            "id": self.id,
            "prefix": self.prefix,
            "name": self.name,
            "scopes": sorted(self.scopes),
            "expiresAt": self.expires_at,
            "allowedIps": list(self.allowed_ips),
            "usageLimit": self.usage_limit,
            "rateLimit": self.rate_limit,
            "connections": self.connections,
            "bandwidth": self.bandwidth,
            "usage": {
                "requests": self.request_count,
                "lastUsedAt": self.last_used_at,
                "lastIp": self.last_ip,
            },
            "createdBy": self.created_by,
            "createdAt": self.created_at,
            "rotatedAt": self.rotated_at,
            "previousKeyValidUntil": self.previous_expires_at,
            "revokedAt": self.revoked_at,
            "active": self.revoked_at is None,
        }


class KeyNotFound(NotFound):
    def __init__(self, key_id: str) -> None:
        super().__init__(f"No API key '{key_id}'")


def parse_duration(text: str | int | None, field: str, zero: bool = False) -> int | None:
    """'30d', '12h', '15m', '90s', '2w' or plain seconds → seconds; 0 only if `zero`."""
    if text is None or text == "":
        return None
    if isinstance(text, int) and not isinstance(text, bool) or str(text).strip().isdigit():
        seconds = int(text)
    else:
        match = _DURATION.match(str(text).strip())
        if not match or isinstance(text, bool):
            raise ValidationError(
                "Invalid duration", [Detail(field, f"expected e.g. 30d, 12h, 15m, got {text!r}")]
            )
        seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0 or (seconds == 0 and not zero):  # an expiry of "0d" is not "never"
        raise ValidationError("Invalid duration", [Detail(field, "must be longer than zero")])
    return seconds


def create_key(
    state: StateStore,
    name: str,
    scopes: list[str] | tuple[str, ...] = ("read",),
    *,
    expires_in: int | None = None,
    allowed_ips: list[str] | tuple[str, ...] = (),
    usage_limit: int | None = None,
    rate_limit: str | None = None,
    connections: int | None = None,
    bandwidth: str | None = None,
    created_by: str | None = None,
) -> tuple[ApiKey, str]:
    """Make a key; returns it and its secret, which is never shown again (the caller
    checks the notation of `rate_limit` and `bandwidth`)."""
    details = _check(name, scopes, allowed_ips, usage_limit, connections)
    if details:
        raise ValidationError("Invalid API key settings", details)
    key_id = secrets.token_hex(6)
    secret = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    expires = iso(now + _seconds(expires_in)) if expires_in else None
    with state.transaction() as db:
        db.execute(
            "INSERT INTO api_keys (id, name, key_hash, scopes, expires_at, allowed_ips,"
            " usage_limit, rate_limit, connections, bandwidth, created_by, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key_id,
                name.strip(),
                _hash(secret),
                json.dumps(sorted(set(scopes))),
                expires,
                json.dumps([str(ipaddress.ip_network(n, strict=False)) for n in allowed_ips]),
                usage_limit,
                rate_limit,
                connections,
                bandwidth,
                created_by,
                iso(now),
            ),
        )
        outbox.add(db, [_event("key.created", key_id, name.strip(), scopes)])
    return get_key(state, key_id), secret


def list_keys(state: StateStore) -> list[ApiKey]:
    key_use.flush(state)
    return [_key(row) for row in state.query("SELECT * FROM api_keys ORDER BY created_at, id")]


def get_key(state: StateStore, key_id: str) -> ApiKey:
    key_id = key_id.removeprefix(PREFIX)
    key_use.flush(state)
    rows = state.query("SELECT * FROM api_keys WHERE id = ?", (key_id,))
    if not rows:
        raise KeyNotFound(key_id)
    return _key(rows[0])


def rotate_key(
    state: StateStore, key_id: str, grace_seconds: int = DEFAULT_GRACE_SECONDS
) -> tuple[ApiKey, str]:
    """A new secret for the same key; the old one keeps working for `grace_seconds`."""
    key = get_key(state, key_id)
    if key.revoked_at:
        raise ValidationError("A revoked key cannot be rotated", [Detail("id", "is revoked")])
    secret = f"{PREFIX}{key.id}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    with state.transaction() as db:
        db.execute(
            "UPDATE api_keys SET previous_hash = key_hash, previous_expires_at = ?,"
            " key_hash = ?, rotated_at = ? WHERE id = ?",
            (iso(now + _seconds(grace_seconds)), _hash(secret), iso(now), key.id),
        )
    return get_key(state, key.id), secret


def revoke_key(state: StateStore, key_id: str) -> ApiKey:
    key = get_key(state, key_id)
    if key.revoked_at is None:
        with state.transaction() as db:
            db.execute("UPDATE api_keys SET revoked_at = ? WHERE id = ?", (iso(utcnow()), key.id))
            outbox.add(db, [_event("key.revoked", key.id, key.name, key.scopes)])
    return get_key(state, key.id)


def _event(name: str, key_id: str, key_name: str, scopes) -> Event:
    """A key.* event: which key, never its secret or hash."""
    data = {"id": key_id, "prefix": f"{PREFIX}{key_id}", "name": key_name, "scopes": sorted(scopes)}
    return Event(name, data, key=f"key:{key_id}")


def verify_key(state: StateStore, secret: str, ip: str | None) -> ApiKey:
    """The key a request presents, checked (known, current, allowed from this IP) and
    counted against its usage limit in the same step."""
    match = _KEY.match(secret or "")
    rows = state.query("SELECT * FROM api_keys WHERE id = ?", (match.group(1),)) if match else []
    row = rows[0] if rows else None
    presented = _hash(secret or "")
    current = row is not None and hmac.compare_digest(presented, row["key_hash"])
    previous = (
        row is not None
        and row["previous_hash"] is not None
        and hmac.compare_digest(presented, row["previous_hash"])
        and parse_iso(row["previous_expires_at"]) > utcnow()
    )
    if not (current or previous):
        raise Unauthorized("Invalid API key")
    key = _key(row)
    if key.revoked_at:
        raise Unauthorized("This API key has been revoked")
    if key.expires_at and parse_iso(key.expires_at) <= utcnow():
        raise Unauthorized("This API key has expired")
    if key.allowed_ips and not _ip_allowed(ip, key.allowed_ips):
        raise Forbidden(f"This API key may not be used from {ip}")
    return _spend(state, key, ip)


def _spend(state: StateStore, key: ApiKey, ip: str | None) -> ApiKey:
    """Count one request, unless the usage limit is spent: check and count are one UPDATE,
    so concurrent requests, in any process, can never take more than the limit. A key with
    no limit is counted in this process and written in batches (vellum.auth.key_use)."""
    if key.usage_limit is None:
        waiting = key_use.of(state).count(key.id, ip)
        count = key.request_count + waiting
        return replace(key, request_count=count, last_used_at=iso(utcnow()), last_ip=ip)
    with state.transaction() as db:
        rows = db.execute(
            "UPDATE api_keys SET request_count = request_count + 1, last_used_at = ?,"
            " last_ip = ? WHERE id = ? AND (usage_limit IS NULL OR request_count < usage_limit)"
            " RETURNING request_count, last_used_at, last_ip",
            (iso(utcnow()), ip, key.id),
        ).fetchall()
    if not rows:
        raise RateLimited(f"This API key has used all of its {key.usage_limit} requests")
    count, used_at, last_ip = rows[0]
    return replace(key, request_count=count, last_used_at=used_at, last_ip=last_ip)


def record_use(state: StateStore, key_id: str, ip: str | None, method: str, path: str, status: int):
    """Add a request, with its final status, to the key's activity log (verify_key counted
    it); written with the process's next batch."""
    key_use.of(state).log(key_id, ip, method, path, status)


def activity(state: StateStore, key_id: str, limit: int = 50, offset: int = 0) -> list[dict]:
    key = get_key(state, key_id)
    rows = state.query(
        "SELECT at, ip, method, path, status FROM key_activity WHERE key_id = ?"
        " ORDER BY id DESC LIMIT ? OFFSET ?",
        (key.id, limit, offset),
    )
    return [dict(row) for row in rows]


def _check(name, scopes, allowed_ips, usage_limit, connections=None) -> list[Detail]:
    details = []
    if not (name or "").strip():
        details.append(Detail("name", "is required"))
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        details.append(Detail("scopes", f"expected some of {', '.join(SCOPES)}"))
    for network in allowed_ips:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            details.append(Detail("allowedIps", f"{network!r} is not an IP address or CIDR"))
    if usage_limit is not None and (not isinstance(usage_limit, int) or usage_limit < 1):
        details.append(Detail("usageLimit", "must be a positive integer"))
    if connections is not None and (
        not isinstance(connections, int) or isinstance(connections, bool) or connections < 1
    ):
        details.append(Detail("connections", "must be a positive integer"))
    return details


def _ip_allowed(ip: str | None, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n) for n in networks)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _seconds(n: int) -> dt.timedelta:
    return dt.timedelta(seconds=n)


def _key(row) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        scopes=frozenset(json.loads(row["scopes"])),
        expires_at=row["expires_at"],
        allowed_ips=tuple(json.loads(row["allowed_ips"])),
        usage_limit=row["usage_limit"],
        rate_limit=row["rate_limit"],
        connections=row["connections"],
        bandwidth=row["bandwidth"],
        request_count=row["request_count"],
        last_used_at=row["last_used_at"],
        last_ip=row["last_ip"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
        revoked_at=row["revoked_at"],
        previous_expires_at=row["previous_expires_at"],
    )
