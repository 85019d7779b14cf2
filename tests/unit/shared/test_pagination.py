"""Keyset cursors (no I/O): every string the schema's pattern admits is a position, and a
position comes back from its cursor exactly."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.pagination import CURSOR_PATTERN, Cursor, decode_cursor, encode_cursor
from shared.problems import install_problem_handlers


@pytest.mark.parametrize(
    "created_at",
    [
        datetime(2026, 12, 2, 1, 34, 32, 123456, tzinfo=UTC),
        datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_a_cursor_gives_back_its_position_and_matches_the_pattern(created_at):
    row_id = uuid.uuid4()

    cursor = encode_cursor(created_at, row_id)

    assert re.fullmatch(CURSOR_PATTERN, cursor)
    assert decode_cursor(cursor) == (created_at, row_id)


@pytest.mark.parametrize("cursor", ["A" * 32, "_" * 32, "-" * 32, "z9" * 16])
def test_every_string_the_pattern_admits_is_a_position(cursor):
    created_at, row_id = decode_cursor(cursor)

    assert created_at.tzinfo is UTC and isinstance(row_id, uuid.UUID)


def test_a_position_beyond_the_representable_times_is_after_every_row():
    created_at, _ = decode_cursor("f" + "_" * 31)  # the largest microsecond count there is

    assert created_at == datetime.max.replace(tzinfo=UTC)


def test_the_pattern_is_in_the_schema_and_anything_else_is_a_422():
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/things")
    async def things(cursor: Cursor = None) -> dict[str, str | None]:
        return {"at": decode_cursor(cursor)[0].isoformat() if cursor else None}

    client = TestClient(app)
    (parameter,) = app.openapi()["paths"]["/things"]["get"]["parameters"]
    valid = encode_cursor(datetime(2026, 12, 2, tzinfo=UTC), uuid.uuid4())

    assert {"type": "string", "pattern": CURSOR_PATTERN} in parameter["schema"]["anyOf"]
    assert client.get("/things", params={"cursor": valid}).json() == {
        "at": "2026-12-02T00:00:00+00:00"
    }
    assert client.get("/things").json() == {"at": None}
    for invalid in ["", "0.5", "A" * 31, "A" * 33, "A" * 31 + "="]:
        refused = client.get("/things", params={"cursor": invalid})
        assert refused.status_code == 422, invalid
        assert refused.json()["errors"][0]["pointer"] == "query:/cursor"
