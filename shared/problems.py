"""RFC 9457 problem details: the one error format of every HTTP API in the hub."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import DATABASE_ERRORS, database_unavailable

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://liege-ehub.example/problems/"
# While the database is unreachable: when to try again (a fast restart takes a second or two).
DATABASE_RETRY_AFTER_SECONDS = 2


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
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in parts)


def _validation_errors(error: RequestValidationError) -> list[dict[str, str]]:
    return [
        {"pointer": _pointer(tuple(item["loc"])), "detail": item["msg"]} for item in error.errors()
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
        return problem_response(
            request,
            error.status_code,
            slug,
            str(error.detail),
            headers=getattr(error, "headers", None),
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

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            request,
            500,
            "internal-error",
            "An unexpected error occurred; it has been logged.",
        )


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (400, 401, 403, 404, 409, 422)
}
