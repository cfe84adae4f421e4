"""Who is asking and what they may do: users, API keys, JWTs, OAuth2 storage and grants, the
principal and scopes of a request, and rate limits.

Imports: errors, context, site, store, query.
"""
