"""Applications keep the order they were registered in, on both engines.

SQLite listed them by created_at, then rowid; PostgreSQL has no rowid, so the order is a
column of its own: `position`, filled in for the applications already there.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NUMBERED = {
    "sqlite": "UPDATE oauth_clients SET position = rowid",
    "postgresql": (
        "UPDATE oauth_clients SET position = o.n FROM (SELECT id, row_number()"
        " OVER (ORDER BY created_at, id) AS n FROM oauth_clients) o"
        " WHERE oauth_clients.id = o.id"
    ),
}


def upgrade() -> None:
    op.add_column("oauth_clients", sa.Column("position", sa.BigInteger()))
    op.execute(NUMBERED[op.get_bind().dialect.name])


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("position")
