"""The names GraphQL generates for each model, and the models that cannot have theirs.

Naming is the contract (see DESIGN.md): `blogPost` → type `BlogPost`, field
`blogPost(id)`, list `blogPosts` (the model's plural), enum `BlogPostStatus` with
upper-cased values, `BlogPostFilter`, `BlogPostConnection`, `createBlogPost`…

A site can ask for a name that is already taken — a model called `query`, a model
`blogPostStatus` beside `blogPost.status`, a plural equal to another model's name, enum
values that upper-case to the same key. Such a model is left out of the schema (REST
still serves it) and `exclusions` says why, so that `vellum validate` and `/api/_status`
can report it instead of the whole GraphQL API failing. Pure: no graphene here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vellum.site.models import Field, Model
from vellum.site.site import CONFIG_FILE, Site
from vellum.store.records import Problem

if TYPE_CHECKING:
    from vellum.store.catalog import Catalog

NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
SYSTEM_NAMES = {"id", "type", "locale", "createdAt", "updatedAt", "version", "versions"}

# Types and root fields the schema has whatever the site's models are.
BUILT_IN_TYPES = {
    "Query",
    "Mutation",
    "Content",
    "ContentAuthor",
    "ContentFilter",
    "ContentInput",
    "SearchHit",
    "Media",
    "PageInfo",
    "Version",
    "JSON",
    "Date",
    "DateTime",
    "StringFilter",
    "IDFilter",
    "IntFilter",
    "FloatFilter",
    "BooleanFilter",
    "DateFilter",
    "DateTimeFilter",
    "String",
    "Int",
    "Float",
    "Boolean",
    "ID",
}
BUILT_IN_QUERIES = {"content", "contents", "search"}
BUILT_IN_MUTATIONS = {"createContent", "updateContent", "deleteContent"}


def type_name(model: str) -> str:
    """`blogPost` → `BlogPost`."""
    return model[:1].upper() + model[1:]


def enum_key(value: str) -> str:
    """`published` → `PUBLISHED`; anything GraphQL cannot name becomes `_`."""
    key = re.sub(r"\W", "_", str(value)).upper()
    return f"_{key}" if not key or key[0].isdigit() else key


def usable_fields(fields: dict[str, Field]) -> dict[str, Field]:
    """Fields GraphQL can name and that do not shadow a system field."""
    return {
        n: f
        for n, f in fields.items()
        if NAME.match(n)
        and not n.startswith("__")
        and n not in SYSTEM_NAMES
        and n not in ("body", "html")
    }


def claims(model: Model, fields: dict[str, Field]) -> dict[str, set[str]]:
    """Every name the schema gives this model: types, query fields, mutation fields."""
    t = type_name(model.name)
    types = {t, f"{t}Filter", f"{t}Connection", f"Create{t}Input", f"Update{t}Input"}
    for f in usable_fields(fields).values():
        if f.type == "enum":
            types |= {f"{t}{type_name(f.name)}", f"{t}{type_name(f.name)}Filter"}
    return {
        "type": types,
        "query": {model.name, model.list_name},
        "mutation": {f"create{t}", f"update{t}", f"delete{t}"},
    }


def _own_problem(model: Model, fields: dict[str, Field]) -> str | None:
    """What is wrong with a model's names taken alone."""
    if not NAME.match(model.name):
        return f"'{model.name}' is not a GraphQL name"
    if not NAME.match(model.list_name) or model.list_name.startswith("__"):
        return f"its plural '{model.list_name}' is not a GraphQL name (letters, digits, _)"
    if model.list_name == model.name:
        return f"its plural '{model.list_name}' is the same as its name"
    for f in usable_fields(fields).values():
        if f.type != "enum":
            continue
        seen: dict[str, str] = {}
        for value in dict.fromkeys(f.values):
            key = enum_key(value)
            if key in seen:
                both = f"values '{seen[key]}' and '{value}' both become {key}"
                return f"enum {f.name}: {both} in GraphQL"
            seen[key] = value
    return None


def exclusions(models: dict[str, Model], fields: dict[str, dict[str, Field]]) -> dict[str, str]:
    """Models GraphQL must leave out, each with the reason; the first model to claim a
    name (in the order of vellum.yml) keeps it."""
    taken: dict[str, dict[str, str]] = {
        "type": dict.fromkeys(BUILT_IN_TYPES, "the built-in schema"),
        "query": dict.fromkeys(BUILT_IN_QUERIES, "the Content API"),
        "mutation": dict.fromkeys(BUILT_IN_MUTATIONS, "the Content API"),
    }
    out: dict[str, str] = {}
    for name, model in models.items():
        own = fields.get(name, {})
        wanted = claims(model, own)
        problem = _own_problem(model, own) or _clash(wanted, taken)
        if problem is not None:
            out[name] = f"left out of GraphQL: {problem}"
            continue
        for kind, names in wanted.items():
            taken[kind].update(dict.fromkeys(names, f"model '{name}'"))
    return out


def _clash(wanted: dict[str, set[str]], taken: dict[str, dict[str, str]]) -> str | None:
    words = {"type": "type", "query": "query field", "mutation": "mutation"}
    for kind, names in wanted.items():
        for n in sorted(names):
            if n in taken[kind]:
                return f"its {words[kind]} name {n} is already used by {taken[kind][n]}"
    return None


def model_fields(site: Site, catalog: Catalog) -> dict[str, dict]:
    """The fields of every model: declared, or inferred from the files."""
    return {
        name: catalog.fields.get(name, {}) if model.inferred else model.fields
        for name, model in site.models.items()
    }


def problems(site: Site, catalog: Catalog) -> list[Problem]:
    """The models GraphQL leaves out, as problems of vellum.yml (or of an inferred folder)."""
    return [
        Problem(
            site.models[name].folder if site.models[name].inferred else CONFIG_FILE,
            reason,
            field=f"models.{name}",
        )
        for name, reason in exclusions(site.models, model_fields(site, catalog)).items()
    ]
