"""The state: accounts, keys, tokens, OAuth, the event outbox, webhooks, deliveries.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text(), nullable=False, unique=True),
        sa.Column("email", sa.Text()),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.Text(), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.Text()),
        sa.Column("previous_expires_at", sa.Text()),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Text()),
        sa.Column("allowed_ips", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("usage_limit", sa.Integer()),
        sa.Column("rate_limit", sa.Text()),
        sa.Column("connections", sa.Integer()),
        sa.Column("bandwidth", sa.Text()),
        sa.Column("request_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_used_at", sa.Text()),
        sa.Column("last_ip", sa.Text()),
        sa.Column("created_by", sa.Text()),
        sa.Column("created_at", sa.Text(), nullable=False),
        sa.Column("rotated_at", sa.Text()),
        sa.Column("revoked_at", sa.Text()),
    )
    op.create_table(
        "key_activity",
        sa.Column("id", ID, primary_key=True),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("ip", sa.Text()),
        sa.Column("method", sa.Text()),
        sa.Column("path", sa.Text()),
        sa.Column("status", sa.Integer()),
    )
    op.create_table(
        "revoked_tokens",
        sa.Column("jti", sa.Text(), primary_key=True),
        sa.Column("expires_at", ID, nullable=False),
    )
    op.create_table(
        "oauth_clients",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text()),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("grants", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column("created_at", sa.Text(), nullable=False),
    )
    op.create_table(
        "oauth_codes",
        sa.Column("code_hash", sa.Text(), primary_key=True),
        sa.Column(
            "client_id",
            sa.Text(),
            sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("redirect_uri", sa.Text()),
        sa.Column("code_challenge", sa.Text()),
        sa.Column("code_challenge_method", sa.Text()),
        sa.Column("expires_at", ID, nullable=False),
        sa.Column("used", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("access_jti", sa.Text()),
        sa.Column("access_expires_at", ID),
    )
    op.create_table(
        "oauth_refresh_tokens",
        sa.Column("token_hash", sa.Text(), primary_key=True),
        sa.Column(
            "client_id",
            sa.Text(),
            sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("user_id", ID, sa.ForeignKey("users.id", ondelete="CASCADE")),
        sa.Column("scopes", sa.Text(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("expires_at", ID, nullable=False),
        sa.Column("revoked", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("access_jti", sa.Text()),
        sa.Column("access_expires_at", ID),
    )
    # Live: the event outbox, the processed-commit cursor, webhooks and their deliveries.
    # seq never goes back, even after the newest events are deleted (AUTOINCREMENT, a sequence).
    op.create_table(
        "events",
        sa.Column("seq", ID, primary_key=True, autoincrement=True),
        sa.Column("id", sa.Text(), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("model", sa.Text()),
        sa.Column("key", sa.Text()),
        sa.Column("draft", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "cursors",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.Column("models", sa.Text()),
        sa.Column("secret", sa.Text()),
        sa.Column("retry", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column("created_at", sa.Text(), nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column("endpoint", sa.Text(), primary_key=True),
        sa.Column("seq", ID, sa.ForeignKey("events.seq"), primary_key=True),
        sa.Column("key", sa.Text()),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", ID, primary_key=True),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("at", sa.Text(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer()),
        sa.Column("duration_ms", sa.Integer()),
        sa.Column("error", sa.Text()),
        sa.Column("response", sa.Text()),
    )
    # Failed password checks per user name (known or not), while they count for a lockout.
    op.create_table(
        "sign_in_failures",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("ip", sa.Text()),
    )
    # Small facts about the state itself; on PostgreSQL also the secrets every machine shares.
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_index("key_activity_by_key", "key_activity", ["key_id", "id"])
    op.create_index("deliveries_due", "deliveries", ["state", "next_at"])
    op.create_index("deliveries_by_key", "deliveries", ["endpoint", "key", "seq"])
    op.create_index("delivery_attempts_by_endpoint", "delivery_attempts", ["endpoint", "id"])
    op.create_index("sign_in_failures_by_name", "sign_in_failures", ["name", "at"])
    op.create_index("sign_in_failures_by_time", "sign_in_failures", ["at"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)


TABLES = (
    "users",
    "api_keys",
    "key_activity",
    "revoked_tokens",
    "oauth_clients",
    "oauth_codes",
    "oauth_refresh_tokens",
    "events",
    "cursors",
    "webhooks",
    "deliveries",
    "delivery_attempts",
    "sign_in_failures",
    "meta",
)
