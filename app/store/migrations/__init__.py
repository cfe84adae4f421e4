"""Versioned changes to the state's tables (Alembic), shipped with Vellum and run by
`vellum migrate` (or, for the SQLite file, when a process opens it)."""
