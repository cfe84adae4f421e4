"""Running one GraphQL operation: parse, limits, validate, execute, shape the errors."""

from __future__ import annotations

import logging
from typing import Any

import graphene
from graphql import GraphQLError, OperationType, execute, parse, validate
from graphql.language import OperationDefinitionNode

from vellum.errors import BadRequest, MethodNotAllowed, VellumError
from vellum.graphql.context import Context
from vellum.graphql.limits import Limits, check, check_length

log = logging.getLogger("vellum")
CACHED_DOCUMENTS = 256


def run(
    schema: graphene.Schema,
    payload: Any,
    context: Context,
    limits: Limits,
    *,
    mutations: bool = True,
    documents: dict | None = None,
) -> tuple[dict, int]:
    """One operation {query, variables, operationName} → (result, HTTP status).

    `documents` caches parsed and validated queries for this schema (clients repeat theirs).
    """
    gql = schema.graphql_schema
    cache = documents if documents is not None else {}
    try:
        query, operation_name, variables = _request(payload)
        check_length(query, limits)
        document, problems = cache.get(query) or (_parsed(query), None)
        check(gql, document, operation_name, variables, limits)
        if problems is None:
            problems = validate(gql, document)
            _remember(cache, query, (document, problems))
        if problems:
            return {"errors": [format_error(p) for p in problems]}, 400
        if _is_mutation(document, operation_name):
            if not mutations:
                raise MethodNotAllowed("Mutations need POST")
            # Every mutation needs `write`: refused before its variables are coerced.
            context.check("write")
    except VellumError as exc:
        return {"errors": [_vellum_error(exc)]}, exc.status
    result = execute(
        gql,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        is_awaitable=_never,  # every resolver is synchronous: skip graphql-core's checks
    )
    out: dict[str, Any] = {"data": result.data}
    if result.errors:
        out["errors"] = [format_error(e) for e in result.errors]
    return out, _status(result.data, result.errors)


def _never(_value: Any) -> bool:
    return False


def _request(payload: Any) -> tuple[str, str | None, dict | None]:
    if not isinstance(payload, dict):
        raise BadRequest("Expected a JSON object {query, variables, operationName}")
    query = payload.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("Expected a GraphQL query in `query`")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("`variables` must be a JSON object")
    name = payload.get("operationName") or None
    return query, name if isinstance(name, str) else None, variables


def _remember(cache: dict, query: str, prepared: tuple) -> None:
    if len(cache) >= CACHED_DOCUMENTS:
        cache.pop(next(iter(cache)), None)  # the oldest first
    cache[query] = prepared


def _parsed(query: str):
    try:
        return parse(query)
    except GraphQLError as exc:
        raise BadRequest(f"Syntax error: {exc.message}") from None


def asks_mutation(payload: Any) -> bool:
    """Whether a POST body (one operation or a batch) would run a mutation; a body that
    cannot be read as one is not (running it answers why)."""
    items = payload if isinstance(payload, list) else [payload]
    for item in items:
        try:
            query, name, _ = _request(item)
            if _is_mutation(_parsed(query), name):
                return True
        except VellumError:
            continue
    return False


def _is_mutation(document, name: str | None) -> bool:
    for d in document.definitions:
        if isinstance(d, OperationDefinitionNode) and (
            name is None or (d.name and d.name.value) == name
        ):
            return d.operation == OperationType.MUTATION
    return False


def _status(data: Any, errors: list | None) -> int:
    """200 when anything ran; a request refused as a whole answers like REST would."""
    if data is None and errors:
        original = errors[0].original_error
        if isinstance(original, VellumError):
            return original.status
        return 500 if _in_resolver(errors[0]) else 400
    return 200


def _in_resolver(error: GraphQLError) -> bool:
    """Raised by a resolver (a path in the result) with a cause that is not Vellum's: a
    bug. Errors without a path come from reading the request: a variable or a literal of
    the wrong type, which graphql-core explains in the message."""
    return error.original_error is not None and error.path is not None


def _vellum_error(exc: VellumError) -> dict:
    envelope = exc.as_dict()["error"]
    details = envelope["details"]
    return {"message": envelope["message"], "extensions": {"code": exc.code, "details": details}}


def format_error(error: GraphQLError) -> dict:
    """A GraphQL error with extensions.code (the REST codes) and extensions.details."""
    out = error.formatted
    original = error.original_error
    if isinstance(original, VellumError):
        out.update(_vellum_error(original))
    elif _in_resolver(error):
        log.error("GraphQL resolver failed", exc_info=original)
        out["message"] = "Internal error"
        out["extensions"] = {"code": "INTERNAL_ERROR", "details": []}
    else:
        out["extensions"] = {"code": "BAD_REQUEST", "details": []}
    return out
