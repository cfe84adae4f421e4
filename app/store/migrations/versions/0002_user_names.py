"""User names unique whatever their case, by a unique index on lower(name).

Said by the database itself, so two machines creating 'Ann' and 'ann' at once cannot both
succeed.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("users_name_lower", "users", [sa.text("lower(name)")], unique=True)


def downgrade() -> None:
    op.drop_index("users_name_lower", table_name="users")
