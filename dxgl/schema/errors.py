"""The one place where failures become GraphQL errors: a ``DxglError`` keeps its code and message
(``extensions.code`` and ``extensions.status``, the same codes as REST), a GraphQL syntax or
validation error gets ``invalid_request``, and anything unexpected becomes ``internal`` with a
generic message (logged here, never shown to the client)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.execution import ExecutionResult

from dxgl.contract import ErrorCode
from dxgl.db import is_busy
from dxgl.errors import DxglError

log = logging.getLogger(__name__)


def to_dxgl_error(error: GraphQLError) -> DxglError:
    original = error.original_error
    # A resolver's exception may be wrapped once more by graphql-core.
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    if isinstance(original, DxglError):
        return original
    if original is None or isinstance(original, GraphQLError):
        # GraphQL's own errors: syntax, validation, and coercing a variable (a typed input's
        # scalar or enum raising "Int cannot represent non-integer value: 6.5").
        return DxglError(ErrorCode.INVALID_REQUEST, error.message)
    if is_busy(original):  # SQLite's write lock held past DXGL_DB_BUSY_SECONDS, as REST answers it
        log.warning("database busy in GraphQL resolver at %s", error.path)
        return DxglError(ErrorCode.SERVICE_UNAVAILABLE, "The database is busy; retry shortly")
    log.error("unexpected error in GraphQL resolver at %s", error.path, exc_info=original)
    return DxglError(ErrorCode.INTERNAL)


def format_error(error: GraphQLError) -> GraphQLError:
    if error.extensions and "code" in error.extensions:
        return error  # already converted
    dxgl = to_dxgl_error(error)
    return GraphQLError(
        dxgl.message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": dxgl.code, "status": dxgl.status},
    )


def _convert(result: Any) -> None:
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [format_error(e) for e in errors]


class DxglErrors(SchemaExtension):
    """Converts the errors of every result: single results (HTTP) and each streamed result
    (subscriptions and websocket operations)."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, (GraphQLExecutionResult, ExecutionResult)):
            _convert(result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        _convert(result)
        yield None
