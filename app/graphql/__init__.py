"""The GraphQL schema generated from the site's models: types, filters, loaders, mutations, the
model-agnostic Content API, and the limits measured before a query runs.

Imports: errors, site, store, query, auth.
"""
