"""What every GraphQL resolver reaches through `info.context`: vellum, rights, loaders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vellum.auth import access
from vellum.auth.access import Principal
from vellum.graphql.loader import RelationLoader
from vellum.site.audience import Audience
from vellum.store.catalog import Catalog
from vellum.store.records import Record


@dataclass
class Context:
    """One GraphQL operation: the site's vellum, whom records are shown to, loaders."""

    vellum: Any
    audience: Audience
    authors: dict = field(default_factory=dict)  # first-commit authors, shared per app
    catalog: Catalog | None = None
    relations: RelationLoader | None = None

    def __post_init__(self) -> None:
        self.catalog = self.catalog or self.vellum.catalog()
        self.relations = RelationLoader(self.catalog, self.audience)

    def check(self, scope: str) -> Principal:
        """The caller, once it is known to hold the scope (401 or 403 otherwise)."""
        return access.check(scope)

    def level(self, records: list[Record], locale: str | None = None) -> list[Record]:
        """Records resolved together: their relations load in one batch per relation."""
        return self.relations.level(records, locale)

    def refresh(self) -> None:
        """After a write: read from the new catalog, forget what was loaded before."""
        self.catalog = self.vellum.catalog()
        self.relations = RelationLoader(self.catalog, self.audience)
