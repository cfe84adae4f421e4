"""Content and state at rest: Git, record files and their parsing, the Whoosh index and the
catalog read from it, writes as commits, history, media, sync, the SQLite state store, the
events and outbox kept in it, and word of new events on a shared PostgreSQL state.

Imports: errors, site.
"""
