"""The OpenAPI documents tell the truth about errors (no I/O: small FastAPI apps, in process).

Every error status a route can answer is documented, as `application/problem+json` only; a
status a route answers with a body of its own stays as the route documents it. A 405 lists
every method of the path in `Allow`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from shared.openapi import truthful_openapi
from shared.problems import PROBLEM_JSON, PROBLEM_RESPONSES, install_problem_handlers


class Body(BaseModel):
    name: str


async def signed_in(request: Request) -> str:
    return "someone"


signed_in.problem_statuses = (401, 403)  # type: ignore[attr-defined]


async def signed_in_and_limited(who: Annotated[str, Depends(signed_in)]) -> str:
    return who


signed_in_and_limited.problem_statuses = (429,)  # type: ignore[attr-defined]


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    truthful_openapi(app)
    router = APIRouter(prefix="/v1")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        responses={
            503: {"description": "Not ready (same body)", "content": {"application/json": {}}}
        },
    )
    async def readyz() -> JSONResponse:
        return JSONResponse({"status": "ready"})

    @router.get("/things")
    async def list_things(
        _: Annotated[str, Depends(signed_in)], limit: Annotated[int, Query(ge=1)] = 10
    ) -> list[str]:
        return []

    @router.get("/things/{thing_id}", responses={409: PROBLEM_RESPONSES[409]})
    async def get_thing(thing_id: uuid.UUID) -> dict[str, str]:
        return {}

    @router.put("/things/{thing_id}")
    async def put_thing(
        thing_id: uuid.UUID, body: Body, _: Annotated[str, Depends(signed_in_and_limited)]
    ) -> dict[str, str]:
        return {}

    @router.post("/ping")
    async def ping() -> dict[str, str]:
        return {}

    app.include_router(router)
    return app


def _responses(path: str, method: str) -> dict:
    return _app().openapi()["paths"][path][method]["responses"]


def _errors(responses: dict) -> set[int]:
    return {int(status) for status in responses if int(status) >= 400}


def test_every_error_is_documented_as_a_problem_document_and_as_nothing_else():
    schema = _app().openapi()

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400 and (path, status) != ("/readyz", "503"):
                    assert list(response["content"]) == [PROBLEM_JSON], (path, method, status)
                    assert response["content"][PROBLEM_JSON]["schema"] == {
                        "$ref": "#/components/schemas/Problem"
                    }
    components = schema["components"]["schemas"]
    assert {"Problem", "FieldError"} <= set(components)
    assert not {"HTTPValidationError", "ValidationError"} & set(components)


def test_statuses_follow_from_what_a_route_takes_and_declares():
    assert _errors(_responses("/v1/ping", "post")) == {503}
    assert _errors(_responses("/v1/things", "get")) == {401, 403, 422, 503}
    assert _errors(_responses("/v1/things/{thing_id}", "get")) == {404, 409, 422, 503}
    assert _errors(_responses("/v1/things/{thing_id}", "put")) == {
        400,
        401,
        403,
        404,
        413,
        415,
        422,
        429,
        503,
    }


def test_liveness_needs_no_database_and_readiness_keeps_its_own_503():
    assert _errors(_responses("/healthz", "get")) == set()
    (not_ready,) = [
        response for status, response in _responses("/readyz", "get").items() if status == "503"
    ]
    assert not_ready["description"] == "Not ready (same body)"
    assert list(not_ready["content"]) == ["application/json"]


def test_a_documented_description_and_headers_are_kept():
    app = FastAPI()
    truthful_openapi(app)
    retry = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}

    @app.get("/limited", responses={429: {"description": "Slow down", "headers": retry}})
    async def limited() -> dict[str, str]:
        return {}

    (too_many,) = [
        r for s, r in app.openapi()["paths"]["/limited"]["get"]["responses"].items() if s == "429"
    ]
    assert too_many["description"] == "Slow down"
    assert too_many["headers"] == retry
    assert list(too_many["content"]) == [PROBLEM_JSON]


async def test_a_405_allows_every_method_of_the_path():
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.request("OPTIONS", f"/v1/things/{uuid.uuid4()}")
        unknown = await client.request("DELETE", "/v1/ping")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET, PUT"
    assert unknown.headers["allow"] == "POST"
