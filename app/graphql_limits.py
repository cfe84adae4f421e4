"""Query depth and complexity, measured on the parsed query before anything runs.

```yaml
graphql:
  depth: 10          # nested field levels
  complexity: 1000   # fields resolved, each counted once per item of the lists above it
```
A list's size is its `limit` argument (given or default); a list without one (a
many-relation) counts as LIST_SIZE items; a connection's `nodes` are its limit's items,
its `pageInfo` one object.
Introspection fields (`__schema`, `__type`) are free, so introspection always works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_named_type,
    is_list_type,
    value_from_ast,
)
from graphql.language import DocumentNode, SelectionSetNode
from graphql.type import GraphQLNonNull

from app.errors import BadRequest, Detail
from app.site import Site

DEPTH = 10
COMPLEXITY = 1000
LIST_SIZE = 10


class QueryTooComplex(BadRequest):
    """A query deeper or costlier than vellum.yml's graphql limits allow."""

    code = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    """The most a query may be: levels deep, and fields resolved."""

    depth: int = DEPTH
    complexity: int = COMPLEXITY


def limits_of(site: Site) -> Limits:
    """The `graphql:` section of vellum.yml, checked."""
    settings = site.settings.get("graphql") or {}
    values = {}
    for name, default in (("depth", DEPTH), ("complexity", COMPLEXITY)):
        raw = settings.get(name, default)
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            raise BadRequest(f"vellum.yml: graphql.{name} must be a positive integer")
        values[name] = raw
    return Limits(**values)


def check(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict | None,
    limits: Limits,
) -> None:
    """Raise QueryTooComplex when the operation is too deep or too costly."""
    operation = _operation(document, operation_name)
    if operation is None:
        return  # validation names the problem
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, variables or {})
    depth, cost = walk.selections(operation.selection_set, root, 1, 1, frozenset())
    if depth > limits.depth:
        raise QueryTooComplex(
            f"The query is {depth} levels deep; the limit is {limits.depth}",
            [Detail("query", f"depth {depth} > {limits.depth}")],
        )
    if cost > limits.complexity:
        raise QueryTooComplex(
            f"The query's complexity is {cost}; the limit is {limits.complexity}",
            [Detail("query", f"complexity {cost} > {limits.complexity}")],
        )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        return next((op for op in ops if op.name and op.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


class _Walk:
    def __init__(self, schema: GraphQLSchema, fragments: dict, variables: dict) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def selections(
        self,
        node: SelectionSetNode,
        parent: Any,
        depth: int,
        times: int,
        seen: frozenset,
        once: int = 1,
    ) -> tuple[int, int]:
        """(deepest level, cost) of a selection set resolved `times` times at `depth`;
        `once`: how many times the connection `parent` itself is resolved."""
        deepest, cost = depth - 1, 0
        for sel in node.selections:
            if isinstance(sel, FieldNode):
                d, c = self._field(sel, parent, depth, times, seen, once)
            elif isinstance(sel, InlineFragmentNode):
                kind = (
                    self.schema.get_type(sel.type_condition.name.value)
                    if sel.type_condition
                    else parent
                )
                d, c = self.selections(sel.selection_set, kind or parent, depth, times, seen, once)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                frag = self.fragments.get(sel.name.value)
                if frag is None:
                    continue
                kind = self.schema.get_type(frag.type_condition.name.value) or parent
                d, c = self.selections(
                    frag.selection_set, kind, depth, times, seen | {sel.name.value}, once
                )
            else:
                continue
            deepest, cost = max(deepest, d), cost + c
        return deepest, cost

    def _field(
        self, sel: FieldNode, parent: Any, depth: int, times: int, seen, once: int
    ) -> tuple[int, int]:
        name = sel.name.value
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)
        if name.startswith("__") or definition is None:
            return depth - 1, 0  # introspection is free; unknown fields fail validation
        if name != "nodes" and parent.name.endswith("Connection"):
            times = once  # pageInfo: one per connection, whatever the page size
        if sel.selection_set is None:
            return depth, times
        inner = times * self._size(sel, definition, parent)
        d, c = self.selections(
            sel.selection_set, get_named_type(definition.type), depth + 1, inner, seen, times
        )
        return max(depth, d), times + c

    def _size(self, sel: FieldNode, definition: Any, parent: Any) -> int:
        limit = definition.args.get("limit")
        if limit is not None:
            given = next((a for a in sel.arguments or () if a.name.value == "limit"), None)
            value = value_from_ast(given.value, limit.type, self.variables) if given else None
            value = value if isinstance(value, int) else limit.default_value
            return max(value if isinstance(value, int) else LIST_SIZE, 1)
        kind = definition.type
        kind = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
        if sel.name.value == "nodes" and parent.name.endswith("Connection"):
            return 1  # the connection's limit counted them
        return LIST_SIZE if is_list_type(kind) else 1
