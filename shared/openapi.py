"""OpenAPI documents that tell the truth about errors.

Every error a route can answer is documented, as an RFC 9457 problem document
(`application/problem+json`) and as nothing else, whichever layer answers it:
- the route itself (`responses=` on its router, for example a 409);
- its dependencies: a dependency declares the statuses it answers in an attribute
  `problem_statuses` (the operator check 401/403, the partner key check 401 and 429);
- validation: 422 wherever there is a parameter or a body; 400 (unparseable JSON), 413 and 415
  wherever there is a body (the body limit and the content-type check of `shared.problems`);
- 404 wherever the path names a resource;
- 503 wherever the database is needed, which is every route but the liveness probe.
"""

from __future__ import annotations

from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from shared.problems import PROBLEM_JSON, Problem

PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}
WITHOUT_DATABASE = {"/healthz"}
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _dependencies(dependant: Dependant) -> Iterator[Dependant]:
    for dependency in dependant.dependencies:
        yield dependency
        yield from _dependencies(dependency)


def _api_routes(app: FastAPI) -> Iterator[RouteContext]:
    """Every API route as the app serves it, with its routers' prefixes and responses."""
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, APIRoute) and route.include_in_schema:
            yield route


def _own_bodies(route: RouteContext) -> set[int]:
    """Error statuses `route` documents with a body of its own, not a problem (/readyz's 503):
    a model other than `Problem`, or content of other media types only."""
    return {
        int(status)
        for status, documented in route.responses.items()
        if int(status) >= 400
        and (
            documented.get("model", Problem) is not Problem
            or PROBLEM_JSON not in documented.get("content", {PROBLEM_JSON: {}})
        )
    }


def problem_statuses(route: RouteContext) -> set[int]:
    """Every error status `route` answers with a problem, from what it declares and takes."""
    statuses = {int(status) for status in route.responses if int(status) >= 400}
    dependant = route.dependant
    for dependency in _dependencies(dependant):
        statuses |= set(getattr(dependency.call, "problem_statuses", ()))
    takes_parameters = any(
        (dependant.path_params, dependant.query_params, dependant.header_params)
    ) or any(
        dependency.path_params or dependency.query_params or dependency.header_params
        for dependency in _dependencies(dependant)
    )
    if route.body_field is not None:
        statuses |= {400, 413, 415, 422}  # 400: a body that is no JSON at all
    elif takes_parameters:
        statuses.add(422)
    if "{" in route.path_format:
        statuses.add(404)
    if route.path_format not in WITHOUT_DATABASE:
        statuses.add(503)
    return statuses - _own_bodies(route)


def _problem_response(status: int, documented: dict[str, Any] | None) -> dict[str, Any]:
    """`documented` (its description and headers) answered as a problem document only."""
    return {
        **(documented or {}),
        "description": (documented or {}).get("description") or HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
    }


def truthful_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` document every route's errors as problem documents, and only so."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in FASTAPI_VALIDATION_SCHEMAS:
            schemas.pop(name, None)
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas["Problem"].pop("$defs", {}))
        for route in _api_routes(app):
            operations = schema["paths"][route.path_format]
            for method in route.methods:
                responses = operations[method.lower()]["responses"]
                for status in sorted(problem_statuses(route)):
                    responses[str(status)] = _problem_response(status, responses.get(str(status)))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
