"""The edge of every app (plain ASGI, in process, no I/O): 413 and 415 before a route reads
the body, and an unhandled exception answered once as a 500 problem and logged once."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from shared.problems import MAX_BODY_BYTES, install_problem_handlers


class Body(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/echo")
    async def echo(body: Body) -> dict[str, str]:
        return {"name": body.name}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret data of the buyer")

    return app


@pytest.fixture
async def client():
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://edge") as client:
        yield client


async def test_json_goes_through(client):
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
    ):
        response = await client.post(
            "/echo", content=b'{"name": "a"}', headers={"Content-Type": content_type}
        )

        assert response.status_code == 200, content_type


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
        "multipart/form-data",
        "application/json; charset=latin-1",
        None,
    ],
)
async def test_a_body_that_is_not_json_is_a_415_problem(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}

    response = await client.post("/echo", content=b'{"name": "a"}', headers=headers)

    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/unsupported-media-type")


async def test_a_declared_length_over_the_limit_is_a_413_without_reading_the_body(client):
    response = await client.post(
        "/echo",
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["status"] == 413


async def test_a_chunked_body_over_the_limit_is_a_413(client):
    async def chunks():
        for _ in range(5):
            yield b" " * (MAX_BODY_BYTES // 4)

    response = await client.post(
        "/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


async def test_an_unhandled_exception_is_one_500_problem_logged_once_without_its_text(
    client, caplog
):
    with caplog.at_level(logging.ERROR):
        response = await client.get("/boom")

    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal-error")
    (record,) = caplog.records
    assert record.message == "unhandled error"
    assert isinstance(record.exc_info[1], RuntimeError)
