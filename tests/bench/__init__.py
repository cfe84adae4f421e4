"""Vellum's benchmark: a synthetic site of N posts, Vellum measured against a SQLite peer.

Run it with `make bench` (or `python -m tests.bench --records N`). It is not a test:
targets are informational, but any error (a failed subprocess, a non-200) exits non-zero.
"""
