"""Whom records are shown to: readers of published records, or readers of drafts too.

Every path that shows a record (REST, the content API, GraphQL, sync, search, the event
stream, the CLI) is handed an Audience, and nothing defaults one, so no path can forget
the draft rule: a draft, and a published record's relation to one, is shown only to an
audience that may read drafts; to any other it is as absent as an id that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Audience:
    """Whether the reader may see drafts (the `read:drafts` scope, which `write` implies)."""

    drafts: bool


# Readers of published records only: anonymous callers of a public site, `read` keys.
PUBLIC = Audience(drafts=False)
# Readers of drafts: `read:drafts` or `write` holders; also Vellum's own writes and checks,
# the CLI (whoever runs it has the repository), and webhook endpoints (set up by admins).
EDITORS = Audience(drafts=True)
