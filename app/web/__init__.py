"""Server-rendered pages: the /admin pages and the OAuth consent page, with their sign-in
session and CSRF token.

Imports: errors, context, site, store, query, auth.
"""
