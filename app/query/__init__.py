"""Reading records: typed queries (filters, sorts, paging, fields, populate) checked against
the models, running them over the catalog, rendering records as JSON, and the model-agnostic
content API. REST, GraphQL and the CLI each build these queries from their own input.

Imports: errors, site, store.
"""
