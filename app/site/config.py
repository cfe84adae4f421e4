"""Settings: defaults, then VELLUM_* environment variables, then explicit overrides."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


def parse_bool(value: str) -> bool:
    """Read an on/off setting the way people write it in shells and .env files."""
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {value!r}")


def parse_optional(value: str) -> str | None:
    return value or None


def parse_count(value: str) -> int:
    """A number of things, where 0 means the setting's own default."""
    number = int(value)
    if number < 0:
        raise ValueError(f"expected 0 or more, got {number}")
    return number


def parse_choice(value: str, choices: tuple[str, ...]) -> str:
    lowered = value.strip().lower()
    if lowered not in choices:
        raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
    return lowered


def parse_secret(value: str) -> str | None:
    """HMAC-SHA256 wants a key of at least 32 bytes (RFC 7518 §3.2)."""
    if value and len(value.encode()) < 32:
        raise ValueError("must be at least 32 characters (try: openssl rand -base64 48)")
    return value or None


ROLES = ("single", "primary", "replica")
# A replica fetches every second unless told otherwise: reads are current within about that.
REPLICA_POLL = 1.0


@dataclass(frozen=True)
class Setting:
    """One documented setting; the environment variable is VELLUM_<name>."""

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any] = str

    @property
    def env_var(self) -> str:
        return f"VELLUM_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "SITE",
        ".",
        "Where to look for the site: this folder or a parent holding vellum.yml, else the"
        " repository's only site.",
    ),
    Setting(
        "STATE_DIR",
        None,
        "Where the index and state live; default <git dir>/vellum/<site path>. Never commit it.",
        parse_optional,
    ),
    Setting(
        "STATE_URL",
        None,
        "A postgresql:// URL: keep accounts, keys, tokens, webhooks and events in PostgreSQL,"
        " shared by several machines (default: a SQLite file in the state folder).",
        parse_optional,
    ),
    Setting(
        "REDIS_URL",
        None,
        "A redis:// URL rate limits count in when vellum.yml's rate_limits.storage is not"
        " set; required with STATE_URL, so every machine counts alike.",
        parse_optional,
    ),
    Setting(
        "SYNC_ON_START",
        True,
        "Bring the index up to date with the files when the app starts.",
        parse_bool,
    ),
    Setting(
        "TEXT_INDEX",
        "inline",
        "How the full-text index is filled: 'inline' (before answering) or 'background'.",
    ),
    Setting(
        "SECRET_KEY",
        None,
        "Signs tokens and sessions; default: generated once into the state folder.",
        parse_secret,
    ),
    Setting("HOST", "127.0.0.1", "Address `vellum serve` listens on."),
    Setting("PORT", 5000, "Port `vellum serve` listens on.", int),
    Setting("WORKERS", 2, "Server worker processes.", int),
    Setting(
        "THREADS",
        4,
        "No longer used: each worker process answers its requests and event streams on"
        " greenlets (gevent), many at once; kept so settings that name it still load.",
        int,
    ),
    Setting(
        "STREAMS",
        0,
        "Event streams (GET /api/events) one server process keeps open at once; more are"
        " answered 503 with Retry-After. 0: 1000 per process (an open stream is a few tens"
        " of KB and one socket, not a thread).",
        parse_count,
    ),
    Setting(
        "STREAMS_PER_CALLER",
        0,
        "Event streams a server process keeps open for one caller (an anonymous IP, a key,"
        " a user, an application); more are answered 429 with Retry-After. 0: half of"
        " STREAMS (at least 1), so no one caller holds every stream.",
        parse_count,
    ),
    Setting(
        "STREAM_SECONDS",
        300.0,
        "How long one event stream stays open before it ends with the id to resume from"
        " (EventSource reconnects on its own).",
        float,
    ),
    Setting(
        "ALLOW_PRIVATE_WEBHOOKS",
        False,
        "Let webhooks reach private, link-local and loopback addresses (off: refused).",
        parse_bool,
    ),
    Setting(
        "PROXIES",
        0,
        "Proxies in front of Vellum whose X-Forwarded-For/-Proto/-Host to trust (0: none).",
        parse_count,
    ),
    Setting(
        "LOG_FORMAT",
        "text",
        "How `vellum serve` logs: 'text' (lines like gunicorn's) or 'json' (one object per"
        " line, for log shippers); every line of a request carries its X-Request-Id.",
        lambda value: parse_choice(value, ("text", "json")),
    ),
    Setting(
        "METRICS_TOKEN",
        None,
        "A bearer token that may read GET /metrics (for Prometheus); admins may without it.",
        parse_optional,
    ),
    Setting("REMOTE", None, "A Git remote to pull from and push API writes to.", parse_optional),
    Setting(
        "EXPORT",
        None,
        "A folder `vellum serve` keeps a static export of the read API in (as `vellum export`).",
        parse_optional,
    ),
    Setting(
        "POLL",
        0.0,
        "Seconds between fetches of REMOTE (0: only on a push webhook; a replica: every second).",
        float,
    ),
    Setting(
        "GIT_WEBHOOK_SECRET",
        None,
        "Checks GitHub/GitLab push webhooks at POST /api/hooks/git.",
        parse_optional,
    ),
    Setting(
        "ROLE",
        "single",
        "What this server is among machines sharing one Git remote: 'single' (takes writes,"
        " as one server does), 'primary' (takes writes and pushes them to REMOTE) or"
        " 'replica' (pulls REMOTE, serves reads, sends content writes to PRIMARY_URL).",
        lambda value: parse_choice(value, ROLES),
    ),
    Setting(
        "PRIMARY_URL",
        None,
        "The primary's base URL (https://primary.example.org) a replica redirects content"
        " writes to, 307 with the same path and query.",
        parse_optional,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Resolve every setting; a malformed environment value fails loudly, naming the variable."""
    environ = os.environ if environ is None else environ
    config = {s.name: s.default for s in SETTINGS}
    for setting in SETTINGS:
        raw = environ.get(setting.env_var)
        if raw is None:
            continue
        try:
            config[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ValueError(f"{setting.env_var}: {exc}") from exc
    for key, value in (overrides or {}).items():
        if key not in _BY_NAME:
            raise KeyError(f"unknown setting {key!r}")
        config[key] = value
    if config["TEXT_INDEX"] not in {"inline", "background"}:
        raise ValueError("VELLUM_TEXT_INDEX: expected 'inline' or 'background'")
    return _with_role(config)


def _with_role(config: dict[str, Any]) -> dict[str, Any]:
    """Check the role against what it needs; a replica polls every second by default."""
    role = config["ROLE"]
    if role not in ROLES:
        raise ValueError(f"VELLUM_ROLE: expected one of {', '.join(ROLES)}, got {role!r}")
    if role == "replica" and not config["REMOTE"]:
        raise ValueError(
            "A replica needs a Git remote to pull from: give --remote (or VELLUM_REMOTE)"
        )
    if role == "replica" and not config["POLL"]:
        config["POLL"] = REPLICA_POLL
    url = config["PRIMARY_URL"]
    if url:
        parsed = urlsplit(url)
        if parsed.scheme not in {"http", "https"} or not parsed.netloc:
            raise ValueError(
                f"VELLUM_PRIMARY_URL (--primary-url): expected an http(s) URL, got {url!r}"
            )
        config["PRIMARY_URL"] = url.rstrip("/")
    return config
