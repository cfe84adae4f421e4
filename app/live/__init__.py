"""What runs beside the server: the file watcher, the live leader, the site lease and the
site's duties, webhook endpoints, the dispatcher and its deliveries, the Git remote, and
state-store pruning.

Imports: errors, site, store, query.
"""
