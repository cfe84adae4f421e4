"""Alembic's entry point: runs the revisions on the connection `vellum.store.migrate` opened
(no alembic.ini: the configuration is built in code)."""

from __future__ import annotations

from alembic import context

from vellum.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite alters a table by copying it; batch mode does so when a revision needs it.
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
