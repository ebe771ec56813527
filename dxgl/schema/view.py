"""The ASGI app behind ``/graphql``: HTTP POST/GET, GraphiQL for browsers, multipart uploads and
websockets speaking graphql-transport-ws.

A request refused before it reaches GraphQL (transport errors: method, content type, JSON, batch)
is answered with the GraphQL error shape and a code, never plain text::

    HTTP 405  {"errors": [{"message": "...", "extensions": {"code": "method_not_allowed", "status": 405}}]}

A request authenticated by the portal's session cookie (no ``Authorization`` header) is checked
before its body is read: the ``X-DXGL-CSRF`` header must be the session's token and ``Origin``
(when sent) the service's, else HTTP 401 ``unauthorized`` and nothing runs; so a cross-site form
(urlencoded, ``text/plain``, a multipart upload) never reaches GraphQL. The GraphiQL page itself
(a browser's GET without a query) is served as before, unauthenticated. Websockets: see
:meth:`DxglGraphQL.on_ws_connect` and ``dxgl.schema.sockets``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError, MissingQueryError
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.graphql import OperationType

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.schema.context import DxglContext
from dxgl.schema.schema import schema
from dxgl.schema.sockets import CredentialCheckingHandler
from dxgl.services import json_input, sessions
from dxgl.services.auth import single_authorization

log = logging.getLogger(__name__)

# A GraphQL request body (or a GET ``variables`` parameter, or a websocket message) nested deeper
# than the services' JSON limit is refused as invalid_json (one limit for REST and GraphQL).
MAX_JSON_DEPTH = json_input.MAX_DEPTH
ALLOWED_METHODS = ("GET", "POST")


class TransportError(HTTPException):
    """A request refused before GraphQL runs: answered with ``code``'s status and the error shape."""

    def __init__(self, code: ErrorCode, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(code.status, message or code.default_message)
        self.code = code
        self.headers = headers or {}


class JsonTooDeep(json.JSONDecodeError):
    def __init__(self) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", "", 0)


def error_response(code: ErrorCode, message: str | None = None, headers: dict[str, str] | None = None) -> Response:
    body = {
        "errors": [
            {"message": message or code.default_message, "extensions": {"code": code.value, "status": code.status}}
        ]
    }
    return JSONResponse(body, status_code=code.status, headers=headers)


def _transport_code(error: HTTPException) -> ErrorCode:
    if isinstance(error, TransportError):
        return error.code
    if error.status_code == 405:
        return ErrorCode.METHOD_NOT_ALLOWED
    if error.status_code == 404:
        return ErrorCode.NOT_FOUND
    return ErrorCode.INVALID_REQUEST


def _expected_origin(request: Request | WebSocket) -> str:
    """The origin a cookie-authenticated request must come from (docs/portal.md)."""
    settings = request.state.runtime.settings
    return sessions.expected_origin(
        settings.resolved_public_url,
        trust_proxy=settings.trust_proxy,
        forwarded_proto=request.headers.get("x-forwarded-proto"),
        forwarded_host=request.headers.get("x-forwarded-host"),
    )


class DxglGraphQL(GraphQL):
    graphql_transport_ws_handler_class = CredentialCheckingHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        response: Response
        try:
            if request.method not in ALLOWED_METHODS:
                raise TransportError(
                    ErrorCode.METHOD_NOT_ALLOWED,
                    f"GraphQL answers GET (queries) and POST, not {request.method}",
                    headers={"Allow": ", ".join(ALLOWED_METHODS)},
                )
            response = await self.run(request)
        except HTTPException as error:
            headers = error.headers if isinstance(error, TransportError) else None
            response = error_response(_transport_code(error), error.reason, headers)
        except Exception:
            log.exception("unexpected error in the GraphQL transport")
            response = error_response(ErrorCode.INTERNAL)
        await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> DxglContext:
        # The runtime is the app's lifespan state (dxgl.app), on requests and websockets alike.
        refused: DxglError | None = None
        try:
            authorization = single_authorization(request.headers.getlist("authorization"))
        except DxglError as error:  # two headers: every field that needs the caller says so
            authorization, refused = None, error
        runtime = request.state.runtime
        expected = _expected_origin(request)
        context = DxglContext(
            runtime=runtime,
            authorization=authorization,
            long_lived=isinstance(request, WebSocket),
            refused=refused,
            session_cookie=request.cookies.get(sessions.cookie_name(expected)),
            origin=request.headers.get("origin"),
            expected_origin=expected,
        )
        if isinstance(request, Request) and context.uses_session_cookie:
            if self.should_render_graphql_ide(self.request_adapter_class(request)):
                context.session_cookie = None  # the GraphiQL page: served, nobody authenticated
            else:
                # Before the body is read: a request without the CSRF token, from another origin or
                # with a dead session is a 401 here and nothing runs.
                try:
                    await context.authenticate_session(request.headers.get(sessions.CSRF_HEADER))
                except DxglError as error:
                    raise TransportError(error.code, error.message, headers=error.headers) from None
        return context

    def is_websocket_origin_allowed(self, request: Any, origin: str) -> bool:
        # Strawberry refuses a handshake whose Origin is not the Host it came to (HTTP 403, before
        # anything is accepted). The public origin is allowed too, as it may differ from the Host
        # behind a proxy; every other origin stays refused.
        return sessions.origin_matches(origin, _expected_origin(request)) or super().is_websocket_origin_allowed(
            request, origin
        )

    async def on_ws_connect(self, context: Any) -> None:
        # graphql-transport-ws: the token may come in the connection_init payload instead of a header
        # (browsers cannot set headers on a websocket). A good token authenticates the socket now, so
        # that it is followed from the start (dxgl.schema.sockets); a missing or bad one is answered
        # per operation with the documented error code, not by closing the socket.
        context.accept_connection_params(context.connection_params)
        if context.uses_session_cookie:
            # The portal's session cookie: the socket must come from the service's origin (else
            # closed 4403 now; another site's page was already refused at the handshake, above) and
            # connection_init must carry {"csrfToken": ...}; a wrong or missing token, or a dead
            # session, is answered per operation (unauthorized).
            if not sessions.origin_matches(context.origin, context.expected_origin):
                raise ConnectionRejectionError()
            try:
                await context.authenticate_session(context.csrf_token)
            except DxglError as error:
                context.refused = error
            return None
        if context.authorization:
            try:
                await context.caller()
            except DxglError:
                pass  # answered per operation
        return None

    # --- transport errors with codes -------------------------------------------------------------

    def decode_json(self, data: str | bytes) -> object:
        try:
            value = json.loads(data)
        except RecursionError:
            raise JsonTooDeep() from None
        if json_input.nesting_depth(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise JsonTooDeep()
        return value

    def parse_json(self, data: str | bytes) -> Any:
        try:
            return self.decode_json(data)
        except JsonTooDeep as error:
            raise TransportError(ErrorCode.INVALID_JSON, error.msg) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise TransportError(ErrorCode.INVALID_JSON, f"Request body is not valid JSON: {error}") from None

    async def parse_http_body(self, request: Any) -> Any:
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            if "application/json" not in content_type and content_type != "multipart/form-data":
                raise TransportError(
                    ErrorCode.INVALID_REQUEST,
                    f"Unsupported content type {content_type or '(none)'!r}: send application/json, "
                    "or multipart/form-data for uploads",
                )
        return await super().parse_http_body(request)

    def _validate_batch_request(self, request_data: Any, protocol: Any) -> None:
        raise TransportError(ErrorCode.INVALID_REQUEST, "Batching is not supported: send one operation per request")

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Any,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        # Over HTTP: queries (GET or POST) and mutations (POST); subscriptions need the websocket.
        allowed = (
            {OperationType.QUERY, OperationType.MUTATION} if request_adapter.method == "POST" else {OperationType.QUERY}
        )
        try:
            return await self.schema.execute(
                request_data.query,
                root_value=root_value,
                variable_values=request_data.variables,
                context_value=context,
                operation_name=request_data.operation_name,
                allowed_operation_types=allowed,
                operation_extensions=request_data.extensions,
            )
        except InvalidOperationTypeError as error:
            if error.operation_type is OperationType.MUTATION:
                raise TransportError(
                    ErrorCode.METHOD_NOT_ALLOWED,
                    "Mutations need POST: GET runs queries only",
                    headers={"Allow": "POST"},
                ) from None
            raise TransportError(
                ErrorCode.INVALID_REQUEST, "Subscriptions run over a websocket (graphql-transport-ws)"
            ) from None
        except CannotGetOperationTypeError as error:
            raise TransportError(ErrorCode.INVALID_REQUEST, error.as_http_error_reason()) from None
        except MissingQueryError:
            raise TransportError(ErrorCode.INVALID_REQUEST, "No GraphQL query found in the request") from None


def graphql_app() -> DxglGraphQL:
    return DxglGraphQL(
        schema,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
