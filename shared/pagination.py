"""Keyset cursors of the hub's lists (newest first): a position (created_at, id), opaque.

A cursor is the position packed in 24 bytes (microseconds since the epoch, signed, then the
UUID's 16 bytes) and spelled in 32 characters of URL-safe base64, which the OpenAPI states as
a pattern: every string the pattern admits is a position, so a schema-valid cursor is always
answered with a page, and every other one is a 422 of the schema (an empty `cursor=` too).
A position beyond the times Python represents is before or after every row.
"""

from __future__ import annotations

import base64
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Query

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POSITION = struct.Struct(">q16s")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)

CURSOR_PATTERN = "^[A-Za-z0-9_-]{32}$"

Cursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="next_cursor of the previous page (omit for the first page)",
        examples=["AAZhnKUMnEA_qF9kVxdFYrP8LJY_Zq-m"],
    ),
]


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(_POSITION.pack(micros, row_id.bytes)).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position of a cursor the pattern admits."""
    micros, row_id = _POSITION.unpack(base64.urlsafe_b64decode(cursor))
    try:
        created_at = _EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        created_at = _LATEST if micros > 0 else _EARLIEST
    return created_at, uuid.UUID(bytes=row_id)
