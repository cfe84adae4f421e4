"""The static export: the public read API written as files whose bytes are the live
answers (`vellum export DIR`, `vellum serve --export DIR`). Answers are rendered by the
Flask app itself, so the files cannot drift from what the server says.

Imports: errors, site, store, query, auth, live, api.
"""
