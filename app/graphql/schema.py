"""The GraphQL schema of a site, generated from its models and rebuilt when they change."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import graphene
import orjson

from vellum.graphql.content import mutation_fields as content_mutations
from vellum.graphql.content import query_fields as content_queries
from vellum.graphql.models import Registry, query_fields
from vellum.graphql.mutations import mutation_fields
from vellum.graphql.names import exclusions, model_fields
from vellum.site.site import Site
from vellum.store.catalog import Catalog


def build_schema(site: Site, catalog: Catalog) -> graphene.Schema:
    """Query and Mutation for every model (declared or inferred) that can have its names,
    plus the Content API."""
    fields = model_fields(site, catalog)
    excluded = exclusions(site.models, fields)
    models = {name: m for name, m in site.models.items() if name not in excluded}
    registry = Registry(models, fields)
    query = type("Query", (graphene.ObjectType,), {**query_fields(registry), **content_queries()})
    mutation = type(
        "Mutation", (graphene.ObjectType,), {**mutation_fields(registry), **content_mutations()}
    )
    return graphene.Schema(query=query, mutation=mutation, auto_camelcase=False)


def signature(site: Site, catalog: Catalog) -> str:
    """What the schema depends on: the declared models and the fields inferred from files."""
    inferred = {
        name: [f.as_dict() for f in catalog.fields[name].values()]
        for name, model in sorted(site.models.items())
        if model.inferred
    }
    payload = orjson.dumps([site.models_hash, inferred, sorted(site.models)])
    return hashlib.sha1(payload).hexdigest()


class Schemas:
    """One app's schema, regenerated when the site's models (or inferred fields) change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: tuple[Any, Any, str, graphene.Schema] | None = None
        self.builds = 0
        self.authors: dict = {}  # first-commit authors of records, for Content.author
        self.documents: dict = {}  # parsed, validated queries of the current schema

    def current(self, site: Site, catalog: Catalog) -> graphene.Schema:
        """The schema for this catalog; built once per change of the models."""
        found = self._current
        if found is not None and found[0] is site and found[1] is catalog:
            return found[3]
        key = signature(site, catalog)
        with self._lock:
            if self._current is None or self._current[2] != key:
                self._current = (site, catalog, key, build_schema(site, catalog))
                self.documents = {}
                self.builds += 1
            else:
                self._current = (site, catalog, key, self._current[3])
            return self._current[3]
