"""Reading records: filters, sorts, paging and rendering for REST, GraphQL and the CLI alike,
and the model-agnostic content API.

Imports: errors, site, store.
"""
