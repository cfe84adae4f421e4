"""A site as its files declare it: vellum.yml, its models and fields, who may see drafts,
and the process settings read from the environment.

Imports: errors.
"""
