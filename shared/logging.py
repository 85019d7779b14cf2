"""JSON logs, one object per line, carrying the current trace and span ids.

What a line carries is chosen here, never dumped: besides its own fields (time, level,
service, logger, message, trace and span ids) only the `LOGGED_FIELDS` a call passes in
`extra`, each a scalar or a short list of scalars. An exception is logged as its type, a
message only where the message is ours, and the frames it passed through: never the text of
a library's exception, which for SQLAlchemy holds the statement and its parameters (a whole
order, with the buyer's name, address and payment token) and for pydantic the input values.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

LOGGED_FIELDS = frozenset(
    {
        # identifiers of our own records and messages
        "order_id",
        "payment_id",
        "shipment_id",
        "delivery_id",
        "event_id",
        "event_type",
        "idempotency_key",
        "intent_id",
        "letters",
        "latest_load",
        # what happened, counted or classified
        "attempt",
        "attempts",
        "count",
        "events",
        "partitions",
        "operation",
        "scan",
        "status",
        "error_type",
        "reason",
        "error",
        "retry_in",
        # where
        "task",
        "topic",
        "subscriptions",
        "path",
        "method",
        "operator",
    }
)
"""The `extra` fields a log line may carry. `reason` and `error` are texts our code composes
(a gateway's decline code, a hold reason), never a request's or an exception's text."""

_MAX_TEXT = 300
_MAX_ITEMS = 50
_OWN_PACKAGES = ("shared.", "services.")


def _scalar(value: object) -> object:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return value[:_MAX_TEXT]
    return f"<{type(value).__name__}>"


def _field(value: object) -> object:
    if isinstance(value, list | tuple | set | frozenset):
        return [_scalar(item) for item in list(value)[:_MAX_ITEMS]]
    return _scalar(value)


def _sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of a database error, wrapped (SQLAlchemy's `orig`) or raised bare."""
    for candidate in (error, getattr(error, "orig", None), error.__cause__):
        sqlstate = getattr(candidate, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate
    return None


def safe_exception_message(error: BaseException) -> str | None:
    """The exception's message if our code wrote it; a database error's SQLSTATE; else none."""
    if type(error).__module__.startswith(_OWN_PACKAGES):
        return str(error)[:_MAX_TEXT]
    sqlstate = _sqlstate(error)
    return f"SQLSTATE {sqlstate}" if sqlstate else None


def exception_fields(error: BaseException) -> dict[str, Any]:
    """Type, safe message, causes' types and frames of an exception; none of its data."""
    causes: list[str] = []
    cause = error.__cause__ or error.__context__
    while cause is not None and len(causes) < 5:
        causes.append(_qualified_name(cause))
        cause = cause.__cause__ or cause.__context__
    fields: dict[str, Any] = {
        "exception_type": _qualified_name(error),
        "exception_message": safe_exception_message(error),
        "stack": [
            f"{frame.filename}:{frame.lineno} in {frame.name}"
            for frame in traceback.extract_tb(error.__traceback__)
        ],
    }
    if causes:
        fields["exception_causes"] = causes
    return fields


def _qualified_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.name.startswith(_OWN_PACKAGES):
        return message
    # A library's message past its first line is a dump (asyncio appends the failed task's
    # repr, its exception's text included); its first line says what happened.
    return message.partition("\n")[0][:_MAX_TEXT]


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self._service,
            "logger": record.name,
            "message": _message(record),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        dropped = []
        for key, value in vars(record).items():
            if key in LOGGED_FIELDS:
                entry[key] = _field(value)
            elif key not in _RECORD_ATTRIBUTES:
                dropped.append(key)
        if dropped:
            # Named so that a field someone meant to log shows up as one to add to the list.
            entry["dropped_fields"] = sorted(dropped)
        if record.exc_info and record.exc_info[1] is not None:
            entry.update(exception_fields(record.exc_info[1]))
        return json.dumps(entry, default=str)


_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    # uvicorn's colour hints
    "color_message",
}


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for uvicorn_logger in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(uvicorn_logger).handlers[:] = []
        logging.getLogger(uvicorn_logger).propagate = True
