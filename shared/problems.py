"""RFC 9457 problem details: the one error format of every HTTP API in the hub.

Problems are answered from two places: the exception handlers (validation, domain refusals,
HTTP errors, the database) and `RequestEdge`, plain ASGI in front of the routes, which
refuses a body that is too large (413) or not JSON (415) before anything reads it, and turns
an exception nothing handled into one 500 problem, logged once (by type, never by its text).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import get_route_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import DATABASE_ERRORS, database_unavailable
from shared.fields import explain

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://liege-ehub.example/problems/"
# While the database is unreachable: when to try again (a fast restart takes a second or two).
DATABASE_RETRY_AFTER_SECONDS = 2
# The largest request body any API takes: an order of 200 items is about 100 kB of JSON.
MAX_BODY_BYTES = 1024 * 1024


class FieldError(BaseModel):
    pointer: str = Field(
        description="JSON Pointer (RFC 6901) to the offending field, e.g. /items/0/hs_code"
    )
    detail: str


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        title: str | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.extensions = extensions


def problem_response(
    request: Request,
    status: int,
    slug: str,
    detail: str | None,
    *,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(location: tuple[Any, ...]) -> str:
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source = parts.pop(0)
        if source != "body":
            return f"{source}:/" + "/".join(str(part) for part in parts)
    if not parts:
        return ""  # the whole document (RFC 6901), e.g. an order whose total is too large
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _validation_errors(error: RequestValidationError) -> list[dict[str, str]]:
    return [
        {"pointer": _pointer(tuple(item["loc"])), "detail": explain(item)}
        for item in error.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(error)
        fields = ", ".join(item["pointer"] for item in errors)
        return problem_response(
            request,
            422,
            "validation-error",
            f"The request is invalid at: {fields}",
            title="Your request parameters didn't validate",
            errors=errors,
        )

    @app.exception_handler(ProblemError)
    async def domain_problem(request: Request, error: ProblemError) -> JSONResponse:
        return problem_response(
            request,
            error.status,
            error.slug,
            error.detail,
            title=error.title,
            **error.extensions,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, error: StarletteHTTPException) -> JSONResponse:
        slug = HTTPStatus(error.status_code).phrase.lower().replace(" ", "-")
        headers = dict(getattr(error, "headers", None) or {})
        if error.status_code == 405:
            headers["Allow"] = allowed_methods(request.app, request.scope)
        return problem_response(
            request, error.status_code, slug, str(error.detail), headers=headers
        )

    async def database_error(request: Request, error: Exception) -> JSONResponse:
        if not database_unavailable(error):
            return await unexpected(request, error)
        return problem_response(
            request,
            503,
            "database-unavailable",
            "The service cannot reach its database right now; retry later.",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )

    for error_type in DATABASE_ERRORS:
        app.add_exception_handler(error_type, database_error)

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        _log_unhandled(request.scope, error)
        return _internal_error(request)

    # Any other exception reaches `RequestEdge`, which answers and logs it without raising it
    # on to the server (uvicorn would log it a second time, with its text).
    app.add_middleware(RequestEdge)


def allowed_methods(app: FastAPI, scope: Scope) -> str:
    """Every method some route of the request's path accepts (Starlette's 405 names only the
    first route whose path matched, e.g. `PUT` where a GET of the same path exists too)."""
    path = get_route_path(scope)
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        if route.path_regex.match(path):
            methods |= route.methods or set()
    return ", ".join(sorted(methods))


def _log_unhandled(scope: Scope, error: BaseException) -> None:
    log.error(
        "unhandled error",
        exc_info=error,
        extra={"path": scope.get("path"), "method": scope.get("method")},
    )


def _internal_error(request: Request) -> JSONResponse:
    return problem_response(
        request, 500, "internal-error", "An unexpected error occurred; it has been logged."
    )


class BodyTooLarge(StarletteHTTPException):
    """Raised while a body of unknown length is read past the limit; answered as a 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than {limit} bytes")


def _is_json(content_type: bytes) -> bool:
    """`application/json` or `application/*+json`, in UTF-8 if a charset is given."""
    media_type, *parameters = content_type.decode("latin-1").lower().split(";")
    media_type = media_type.strip()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        return False
    for parameter in parameters:
        name, _, value = parameter.strip().partition("=")
        if name == "charset" and value.strip('"') not in ("utf-8", "utf8"):
            return False
    return True


class RequestEdge:
    """Plain ASGI in front of the routes (no task, no body copy per request).

    A request with a body must say it is JSON (`application/json` or `application/*+json`,
    UTF-8) or is answered 415; a body over `max_body_bytes` is answered 413, at once when its
    Content-Length says so, else as soon as reading it passes the limit. An exception nothing
    handled becomes one logged 500 problem and goes no further.
    """

    def __init__(self, app: ASGIApp, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self._app = app
        self._max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        length: bytes | None = None
        content_type = b""
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
        if length is not None or chunked:
            size = int(length) if length is not None and length.isdigit() else 0
            if size > self._max_body_bytes:
                await self._refuse(scope, receive, send, BodyTooLarge(self._max_body_bytes))
                return
            if (size or chunked) and not _is_json(content_type):
                await self._refuse(scope, receive, send, _NOT_JSON)
                return
            if length is None:
                receive = self._limited(receive)
        started = False

        async def send_started(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, send_started)
        except Exception as error:
            _log_unhandled(scope, error)
            if not started:
                await _internal_error(Request(scope))(scope, receive, send)

    def _limited(self, receive: Receive) -> Receive:
        """`receive` for a body of unknown length: raises `BodyTooLarge` past the limit."""
        received = 0

        async def receive_limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max_body_bytes:
                raise BodyTooLarge(self._max_body_bytes)
            return message

        return receive_limited

    @staticmethod
    async def _refuse(
        scope: Scope, receive: Receive, send: Send, refusal: StarletteHTTPException
    ) -> None:
        slug = HTTPStatus(refusal.status_code).phrase.lower().replace(" ", "-")
        response = problem_response(Request(scope), refusal.status_code, slug, refusal.detail)
        # The unread body is not wanted: the server closes the connection after this answer.
        response.headers["connection"] = "close"
        await response(scope, receive, send)


_NOT_JSON = StarletteHTTPException(
    415, "The request body must be JSON: Content-Type: application/json"
)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (400, 401, 403, 404, 409, 422)
}
