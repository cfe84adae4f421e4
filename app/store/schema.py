"""The state's tables, defined once for SQLite and PostgreSQL.

The migrations in `vellum.store.migrations` build exactly this; a test compares the two, so
a table changed here without a migration (or the other way round) is caught.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)

metadata = MetaData()
# SQLite's rowid alias must be spelled INTEGER; PostgreSQL's serial ids are 64-bit (and so are
# the epoch seconds kept as integers).
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("email", Text),
    Column("role", Text, nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    Column("updated_at", Text, nullable=False),
)
# Names are unique whatever their case: the database says so, however many writers race.
Index("users_name_lower", func.lower(users.c.name), unique=True)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("key_hash", Text, nullable=False),
    Column("previous_hash", Text),
    Column("previous_expires_at", Text),
    Column("scopes", Text, nullable=False),
    Column("expires_at", Text),
    Column("allowed_ips", Text, nullable=False, server_default="[]"),
    Column("usage_limit", Integer),
    Column("rate_limit", Text),
    Column("connections", Integer),
    Column("bandwidth", Text),
    Column("request_count", Integer, nullable=False, server_default="0"),
    Column("last_used_at", Text),
    Column("last_ip", Text),
    Column("created_by", Text),
    Column("created_at", Text, nullable=False),
    Column("rotated_at", Text),
    Column("revoked_at", Text),
)

key_activity = Table(
    "key_activity",
    metadata,
    Column("id", Id, primary_key=True),
    Column("key_id", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("ip", Text),
    Column("method", Text),
    Column("path", Text),
    Column("status", Integer),
    Index("key_activity_by_key", "key_id", "id"),
)

revoked_tokens = Table(
    "revoked_tokens",
    metadata,
    Column("jti", Text, primary_key=True),
    Column("expires_at", Id, nullable=False),
)

oauth_clients = Table(
    "oauth_clients",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("secret_hash", Text),
    Column("scopes", Text, nullable=False),
    Column("redirect_uris", Text, nullable=False, server_default="[]"),
    Column("grants", Text, nullable=False),
    Column("created_by", Text),
    Column("created_at", Text, nullable=False),
    # The order of registration (SQLite's rowid once; PostgreSQL has none).
    Column("position", BigInteger),
)

oauth_codes = Table(
    "oauth_codes",
    metadata,
    Column("code_hash", Text, primary_key=True),
    Column("client_id", Text, ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("scopes", Text, nullable=False),
    Column("redirect_uri", Text),
    Column("code_challenge", Text),
    Column("code_challenge_method", Text),
    Column("expires_at", Id, nullable=False),
    Column("used", Integer, nullable=False, server_default="0"),
    Column("access_jti", Text),
    Column("access_expires_at", Id),
)

oauth_refresh_tokens = Table(
    "oauth_refresh_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column("client_id", Text, ForeignKey("oauth_clients.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Id, ForeignKey("users.id", ondelete="CASCADE")),
    Column("scopes", Text, nullable=False),
    Column("family", Text, nullable=False),
    Column("expires_at", Id, nullable=False),
    Column("revoked", Integer, nullable=False, server_default="0"),
    Column("access_jti", Text),
    Column("access_expires_at", Id),
)

# Live: the event outbox, the processed-commit cursor, webhooks and their deliveries.
# seq never goes back, even after the newest events are deleted (AUTOINCREMENT, a sequence).
events = Table(
    "events",
    metadata,
    Column("seq", Id, primary_key=True, autoincrement=True),
    Column("id", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("model", Text),
    Column("key", Text),
    Column("draft", Integer, nullable=False, server_default="0"),
    Column("payload", Text, nullable=False),
    Column("created_at", Text, nullable=False),
    sqlite_autoincrement=True,
)

cursors = Table(
    "cursors",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", Text, nullable=False),
    Column("models", Text),
    Column("secret", Text),
    Column("retry", Text, nullable=False),
    Column("created_by", Text),
    Column("created_at", Text, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("endpoint", Text, primary_key=True),
    Column("seq", Id, ForeignKey("events.seq"), primary_key=True),
    Column("key", Text),
    Column("state", Text, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_at", Float, nullable=False),
    Index("deliveries_due", "state", "next_at"),
    Index("deliveries_by_key", "endpoint", "key", "seq"),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("endpoint", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("at", Text, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status_code", Integer),
    Column("duration_ms", Integer),
    Column("error", Text),
    Column("response", Text),
    Index("delivery_attempts_by_endpoint", "endpoint", "id"),
)

# Failed password checks per user name (known or not), while they count for a lockout.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", Text, nullable=False),
    Column("at", Float, nullable=False),
    Column("ip", Text),
    Index("sign_in_failures_by_name", "name", "at"),
    Index("sign_in_failures_by_time", "at"),
)

# Small facts about the state itself; on PostgreSQL also the secrets every machine shares.
meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)
