"""The pre-commit check: problems in the record files a commit is about to add or change."""

from __future__ import annotations

from vellum.store.records import Problem, parse
from vellum.store.sync import record_identity


def staged_problems(services) -> list[Problem]:
    """Parse the staged version of every changed record file; return what is invalid."""
    prefix = services.repo.relative(services.site.root)
    problems = []
    for path, data in sorted(services.repo.staged_files(prefix).items()):
        ident = record_identity(services, path)
        if ident is None or data is None:
            continue
        parsed = parse(services.site, services.site.models[ident["type"]], path, data)
        if isinstance(parsed, Problem):
            problems.append(parsed)
    return problems
