"""The one place where failures become GraphQL errors with `extensions.code`.

Domain errors keep their message and code. Parse and validation errors keep
graphql-core's codes. Everything unexpected is logged with its stack trace
and reaches the client masked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from domain.errors import DomainError, ErrorCode

log = structlog.get_logger("graph.errors")

MASKED_MESSAGE = "Internal server error."


def camel(name: str) -> str:
    """`min_price` → `minPrice`, the name the client sent."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_expected(error: GraphQLError) -> bool:
    """Whether the error is a normal outcome rather than a bug."""
    original = error.original_error
    # Database overload and outages arrive as domain errors too (`persistence.failures`).
    if original is None or isinstance(original, DomainError | GraphQLError):
        return True
    # Variables that fail to coerce surface as request-level value errors.
    return error.path is None and isinstance(original, ValueError | TypeError)


def _extensions(error: GraphQLError, code: str, request_id: str | None) -> dict[str, Any]:
    extensions: dict[str, Any] = {**(error.extensions or {}), "code": code}
    if request_id is not None:
        extensions["requestId"] = request_id
    return extensions


def _rebuild(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def map_error(
    error: GraphQLError,
    *,
    executing: bool,
    request_id: str | None,
    hide_suggestions: bool = False,
) -> GraphQLError:
    """Translate one error for the client."""
    if hide_suggestions and "Did you mean" in error.message:
        # Suggestions reveal field and type names that introspection would have hidden.
        error = GraphQLError(
            _SUGGESTION.sub("", error.message),
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=error.original_error,
            extensions=error.extensions,
        )
    original = error.original_error
    if isinstance(original, DomainError):
        extensions = _extensions(error, original.code.value, request_id)
        if original.fields:
            extensions["fields"] = {camel(k): v for k, v in original.fields.items()}
        extensions.update(original.details)
        return _rebuild(error, original.message, extensions)
    if isinstance(original, GraphQLError) and "code" in (original.extensions or {}):
        code = str((original.extensions or {})["code"])
        return _rebuild(error, original.message, _extensions(original, code, request_id))
    if error.path is None and not executing:
        code = (
            ErrorCode.GRAPHQL_PARSE_FAILED
            if error.message.startswith("Syntax Error")
            else ErrorCode.GRAPHQL_VALIDATION_FAILED
        ).value
        return _rebuild(error, error.message, _extensions(error, code, request_id))
    if error.path is None and (
        original is None or isinstance(original, GraphQLError | ValueError | TypeError)
    ):
        # Request-level failures during execution: variables that do not fit their types.
        code = ErrorCode.BAD_USER_INPUT.value
        return _rebuild(error, error.message, _extensions(error, code, request_id))
    extensions = _extensions(error, ErrorCode.INTERNAL_SERVER_ERROR.value, request_id)
    return _rebuild(error, MASKED_MESSAGE, extensions)


class ErrorMapping(SchemaExtension):
    """Rewrites every error of an operation into its client-facing form."""

    executing = False

    def __init__(self, *, hide_suggestions: bool = False) -> None:
        self.hide_suggestions = hide_suggestions

    def on_execute(self) -> Iterator[None]:
        """Mark that parsing and validation are over."""
        self.executing = True
        yield

    def on_operation(self) -> Iterator[None]:
        """After the operation, map each error of the result."""
        self.executing = False
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result.errors = map_errors(
            errors,
            executing=self.executing,
            request_id=request_id,
            hide_suggestions=self.hide_suggestions,
        )


def map_errors(
    errors: list[GraphQLError],
    *,
    executing: bool,
    request_id: str | None,
    hide_suggestions: bool = False,
) -> list[GraphQLError]:
    """Map every error that has no code yet; mapped ones only gain the request id."""
    mapped = []
    seen: set[str] = set()
    for error in errors:
        if error.path is None and error.original_error is None and not executing:
            # One mistake repeated (a directive written ten times) is one error, not ten.
            if error.message in seen:
                continue
            seen.add(error.message)
        extensions = error.extensions or {}
        if "code" not in extensions:
            error = map_error(
                error,
                executing=executing,
                request_id=request_id,
                hide_suggestions=hide_suggestions,
            )
        elif request_id is not None and "requestId" not in extensions:
            error = _rebuild(error, error.message, {**extensions, "requestId": request_id})
        mapped.append(error)
    return mapped
