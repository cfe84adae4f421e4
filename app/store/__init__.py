"""Content and state at rest: Git, record files and their parsing, the Whoosh index and the
catalog read from it, writes as commits, history, media, sync, the SQLite state store, and the
events and outbox kept in it.

Imports: errors, site.
"""
