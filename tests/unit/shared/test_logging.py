"""Log lines carry chosen fields, never an exception's data (no I/O: records are formatted)."""

from __future__ import annotations

import json
import logging
import sys

from pydantic import BaseModel, ValidationError
from sqlalchemy import exc

from services.payments.domain.errors import AmountExceedsAvailable
from shared.logging import JsonFormatter

BUYER = "Zoë Geheim"
TOKEN = "tok_secret_4242"


def _format(record: logging.LogRecord) -> dict:
    line = JsonFormatter("orders").format(record)
    assert "\n" not in line
    return json.loads(line)


def _record(message="unhandled error", name="shared.problems", exc_info=None, **extra):
    record = logging.LogRecord(name, logging.ERROR, __file__, 1, message, None, exc_info)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def _raised(error: BaseException):
    try:
        raise error
    except BaseException:
        return sys.exc_info()


class _AsyncpgLike(Exception):
    """What the driver raises: its text holds what PostgreSQL said, the row included."""

    sqlstate = "22021"


def test_a_database_error_is_logged_by_type_and_sqlstate_never_by_statement_or_parameters():
    statement_error = exc.DBAPIError(
        "INSERT INTO orders (details) VALUES ($1)",
        {"details": {"buyer": {"name": BUYER}, "payment": {"token": TOKEN}}},
        _AsyncpgLike(f"invalid byte sequence; failing row contains ({BUYER}, {TOKEN})"),
    )

    entry = _format(_record(exc_info=_raised(statement_error), path="/v1/orders"))
    line = json.dumps(entry)

    assert BUYER not in line and TOKEN not in line
    assert "INSERT" not in line and "parameters" not in line
    assert entry["exception_type"] == "sqlalchemy.exc.DBAPIError"
    assert entry["exception_message"] == "SQLSTATE 22021"
    assert entry["stack"] and entry["path"] == "/v1/orders"


def test_a_validation_error_is_logged_without_the_input_values():
    class Buyer(BaseModel):
        name: int

    try:
        Buyer(name=BUYER)
    except ValidationError as error:
        entry = _format(_record(exc_info=_raised(error)))

    assert BUYER not in json.dumps(entry)
    assert entry["exception_message"] is None


def test_our_own_exceptions_keep_their_message():
    refusal = AmountExceedsAvailable("cannot refund 10.00 EUR, only 5.00 EUR remains")

    entry = _format(_record(exc_info=_raised(refusal)))

    assert entry["exception_message"] == "cannot refund 10.00 EUR, only 5.00 EUR remains"


def test_the_causes_of_an_exception_are_named_by_type_only():
    try:
        try:
            raise KeyError(BUYER)
        except KeyError as inner:
            raise RuntimeError(f"lookup of {BUYER} failed") from inner
    except RuntimeError:
        entry = _format(_record(exc_info=sys.exc_info()))

    assert BUYER not in json.dumps(entry)
    assert entry["exception_type"] == "RuntimeError"
    assert entry["exception_causes"] == ["KeyError"]


def test_only_listed_fields_are_logged_and_the_others_are_named():
    entry = _format(_record(order_id="7f0c", buyer={"name": BUYER}, token=TOKEN))

    assert entry["order_id"] == "7f0c"
    assert "buyer" not in entry and "token" not in entry
    assert entry["dropped_fields"] == ["buyer", "token"]
    assert BUYER not in json.dumps(entry)


def test_a_listed_field_holding_an_object_is_logged_as_its_type():
    class Order:
        def __repr__(self) -> str:
            return BUYER

    entry = _format(_record(reason=Order(), letters=["0:1", Order()]))

    assert entry["reason"] == "<Order>"
    assert entry["letters"] == ["0:1", "<Order>"]


def test_a_library_message_keeps_its_first_line_only():
    message = f"Task exception was never retrieved\nfuture: <Task exception=DBAPIError('{BUYER}')>"

    entry = _format(_record(message, name="asyncio"))

    assert entry["message"] == "Task exception was never retrieved"
