"""Query length, depth, complexity, introspection and filter sizes, measured on the query
before anything runs.

```yaml
graphql:
  length: 20000      # characters in a query
  depth: 10          # nested field levels
  complexity: 1000   # fields resolved, each counted once per item of the lists above it
```
A list's size is its `limit` argument (given, from a variable, or default); a list without
one (a many-relation) counts as LIST_SIZE items; a connection's `nodes` are its limit's
items, its `pageInfo` one object; `__typename` is a field like any other.
Introspection (`__schema`, `__type`) is counted exactly against the schema: each field and
fragment it would resolve counts one, and a query may ask for as much as one full
introspection of the schema (what GraphiQL sends), however it spreads it over aliases.
Its levels are left out of `depth`: the schema's own shape bounds them.
A `filter` argument is held to the query layer's limits (limits.max_conditions and
limits.max_values) as sent, before GraphQL coerces it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    get_introspection_query,
    get_named_type,
    get_nullable_type,
    is_list_type,
    parse,
    value_from_ast,
)
from graphql.execution.values import get_argument_values
from graphql.language import DocumentNode, SelectionSetNode
from graphql.type import GraphQLNonNull
from graphql.type.introspection import SchemaMetaFieldDef, TypeMetaFieldDef
from graphql.utilities import value_from_ast_untyped

from vellum.errors import BadRequest, Detail
from vellum.query.lists import FilterLimits, check_conditions, check_values
from vellum.site.schema import GRAPHQL_COMPLEXITY, GRAPHQL_DEPTH, GRAPHQL_LENGTH
from vellum.site.site import Site

LIST_SIZE = 10
# Selections walked per unit of complexity: fragments spread into fragments can make a
# short query huge to walk, so the walk itself is bounded.
VISITS = 10
FULL_INTROSPECTION = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
    input_object_one_of=True,
)


class QueryTooComplex(BadRequest):
    """A query longer, deeper or costlier than vellum.yml's graphql limits allow."""

    code = "QUERY_TOO_COMPLEX"


@dataclass(frozen=True)
class Limits:
    """The most a query may be: characters, levels deep, fields resolved; its filters."""

    depth: int = GRAPHQL_DEPTH
    complexity: int = GRAPHQL_COMPLEXITY
    length: int = GRAPHQL_LENGTH
    filters: FilterLimits = field(default_factory=FilterLimits)


def limits_of(site: Site) -> Limits:
    """The `graphql:` section of vellum.yml, typed (the schema checks it)."""
    given = site.setting("graphql")
    return Limits(depth=given.depth, complexity=given.complexity, length=given.length)


def check_length(query: str, limits: Limits) -> None:
    """Refuse a query longer than graphql.length before it is parsed."""
    if len(query) > limits.length:
        raise QueryTooComplex(
            f"The query is {len(query)} characters long; the limit is {limits.length}",
            [Detail("query", f"length {len(query)} > {limits.length}")],
        )


def check(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict | None,
    limits: Limits,
) -> None:
    """Raise QueryTooComplex when the operation is too deep or too costly (its
    introspection included), BadRequest when a filter is too large."""
    operation = _operation(document, operation_name)
    if operation is None:
        return  # validation names the problem
    root = schema.get_root_type(operation.operation)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(schema, fragments, _variables(operation, variables), limits)
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


@functools.lru_cache(maxsize=8)
def introspection_allowance(schema: GraphQLSchema) -> int:
    """What one full introspection of this schema resolves: the most a query may ask."""
    document = parse(FULL_INTROSPECTION)
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Introspection(schema, fragments, {}, allowance=None)
    for sel in _operation(document, None).selection_set.selections:
        counter.root(sel)
    return counter.count


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        return next((op for op in ops if op.name and op.name.value == name), None)
    return ops[0] if len(ops) == 1 else None


def _variables(operation: OperationDefinitionNode, given: dict | None) -> dict:
    """The variables as sent, over the defaults the operation declares."""
    values = {
        d.variable.name.value: value_from_ast_untyped(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    values.update(given or {})
    return values


class _Walk:
    def __init__(
        self, schema: GraphQLSchema, fragments: dict, variables: dict, limits: Limits
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.limits = limits
        self.visits = 0
        self.introspection = _Introspection(
            schema, fragments, variables, introspection_allowance(schema)
        )

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
            self._visit()
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

    def _visit(self) -> None:
        """Bound the walk: a query spread into this many selections is over its limit."""
        self.visits += 1
        most = VISITS * self.limits.complexity
        if self.visits > most:
            raise QueryTooComplex(
                f"The query spreads into more than {most} selections;"
                f" the complexity limit is {self.limits.complexity}",
                [Detail("query", f"more than {most} selections")],
            )

    def _field(
        self, sel: FieldNode, parent: Any, depth: int, times: int, seen, once: int
    ) -> tuple[int, int]:
        name = sel.name.value
        if name in ("__schema", "__type") and parent is self.schema.query_type:
            self.introspection.root(sel)  # counted against its own allowance
            return depth - 1, 0
        fields = getattr(parent, "fields", None) or {}
        definition = fields.get(name)
        if definition is None:
            return depth, times  # __typename; unknown fields fail validation
        self._filters(sel, definition)
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

    def _filters(self, sel: FieldNode, definition: Any) -> None:
        """Hold each filter argument to the filter limits, as sent."""
        for argument in sel.arguments or ():
            spec = definition.args.get(argument.name.value)
            kind = get_named_type(spec.type) if spec is not None else None
            if _is_filter(kind):
                value = value_from_ast_untyped(argument.value, self.variables)
                _FilterSize(self.limits.filters, argument.name.value).measure(kind, value)


def _is_filter(kind: Any) -> bool:
    """A `<Type>Filter` or ContentFilter input: conditions joined by and/or."""
    return isinstance(kind, GraphQLInputObjectType) and "and" in kind.fields


class _FilterSize:
    """Counts a filter's conditions as REST counts them: each operator on a field, each
    relation a condition goes through, each entry of an and/or list."""

    def __init__(self, limits: FilterLimits, param: str) -> None:
        self.limits = limits
        self.param = param
        self.count = 0

    def measure(self, kind: GraphQLInputObjectType, value: Any, path: str | None = None) -> None:
        path = path or self.param
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            spec = kind.fields.get(key)
            if spec is None or item is None:
                continue  # validation names unknown keys
            inner = get_named_type(spec.type)
            if key in ("and", "or"):
                for entry in item if isinstance(item, list) else [item]:
                    self._add()
                    self.measure(inner, entry, path)
            elif _is_filter(inner):
                self._add()  # a relation
                self.measure(inner, item, f"{path}.{key}")
            elif isinstance(item, dict):
                self._operators(item, f"{path}.{key}")

    def _operators(self, operators: dict, path: str) -> None:
        for op, operand in operators.items():
            if operand is None:
                continue
            self._add()
            if op in ("in", "nin") and isinstance(operand, list):
                check_values(f"{path}.{op}", len(operand), self.limits)

    def _add(self) -> None:
        self.count += 1
        check_conditions(self.param, self.count, self.limits)


@dataclass(frozen=True)
class _Info:
    """What graphql-core's introspection resolvers read from `info`: the schema."""

    schema: GraphQLSchema


class _Introspection:
    """Counts exactly what introspection selections resolve in this schema: each field and
    fragment once per object it is resolved on, stopping as soon as the allowance is spent."""

    def __init__(
        self, schema: GraphQLSchema, fragments: dict, variables: dict, allowance: int | None
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.allowance = allowance
        self.info = _Info(schema)
        self.count = 0

    def root(self, sel: FieldNode) -> None:
        """`__schema` or `__type(name:)` at the query's root."""
        self._tick()
        definition = SchemaMetaFieldDef if sel.name.value == "__schema" else TypeMetaFieldDef
        self._resolve(sel, definition, None, frozenset())

    def selections(self, node: SelectionSetNode, kind: Any, source: Any, seen: frozenset) -> None:
        for sel in node.selections:
            self._tick()
            if isinstance(sel, FieldNode):
                definition = (getattr(kind, "fields", None) or {}).get(sel.name.value)
                if definition is not None:
                    self._resolve(sel, definition, source, seen)
            elif isinstance(sel, InlineFragmentNode):
                self.selections(sel.selection_set, kind, source, seen)
            elif isinstance(sel, FragmentSpreadNode) and sel.name.value not in seen:
                frag = self.fragments.get(sel.name.value)
                if frag is not None:
                    self.selections(frag.selection_set, kind, source, seen | {sel.name.value})

    def _resolve(self, sel: FieldNode, definition: Any, source: Any, seen: frozenset) -> None:
        if sel.selection_set is None or definition.resolve is None:
            return
        try:
            args = get_argument_values(definition, sel, self.variables)
            value = definition.resolve(source, self.info, **args)
        except (GraphQLError, TypeError, KeyError):
            return  # validation or execution explains the mistake
        items = value if is_list_type(get_nullable_type(definition.type)) else [value]
        kind = get_named_type(definition.type)
        for item in items or ():
            if item is not None:
                self.selections(sel.selection_set, kind, item, seen)

    def _tick(self) -> None:
        self.count += 1
        if self.allowance is not None and self.count > self.allowance:
            raise QueryTooComplex(
                "The query's introspection is larger than one full introspection of the"
                f" schema ({self.allowance} fields and fragments)",
                [Detail("query", f"introspection > {self.allowance}")],
            )
