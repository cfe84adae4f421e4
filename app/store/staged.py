"""The pre-commit check: problems in the record files a commit is about to add or change."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vellum.store.records import Problem, parse
from vellum.store.sync import record_identity

if TYPE_CHECKING:
    from vellum.services import Vellum


def staged_problems(vellum: Vellum) -> list[Problem]:
    """Parse the staged version of every changed record file; return what is invalid."""
    prefix = vellum.repo.relative(vellum.site.root)
    problems = []
    for path, data in sorted(vellum.repo.staged_files(prefix).items()):
        ident = record_identity(vellum, path)
        if ident is None or data is None:
            continue
        parsed = parse(vellum.site, vellum.site.models[ident["type"]], path, data)
        if isinstance(parsed, Problem):
            problems.append(parsed)
    return problems
