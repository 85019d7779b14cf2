"""Prometheus metrics shared by the runtime of every service, served on `/metrics`."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

EVENTS_PUBLISHED = Counter(
    "ehub_events_published_total",
    "Events relayed from the outbox to Kafka",
    ["service"],
)
EVENTS_CONSUMED = Counter(
    "ehub_events_consumed_total",
    "Events consumed, by outcome (handled, duplicate, ignored, dead_lettered, parked)",
    ["service", "event_type", "outcome"],
)
EVENTS_UNSUPPORTED_VERSION = Counter(
    "ehub_events_unsupported_version",
    "Events of a handled type at a schemaversion newer than the consumer reads, parked in its"
    " dead-letter topic to be replayed after the upgrade",
    ["service", "event_type", "schemaversion"],
)
CONSUMER_BATCH_SECONDS = Histogram(
    "ehub_consumer_batch_seconds",
    "Time to handle one consumed batch, inbox, prefetch, handlers and commit included",
    ["service"],
)
CONSUMER_BATCH_SIZE = Histogram(
    "ehub_consumer_batch_events",
    "Events handled in one consumer transaction",
    ["service"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
HTTP_REQUESTS = Histogram(
    "ehub_http_request_seconds",
    "HTTP request latency; listener http (partner API) or admin (operator API, /metrics)",
    ["service", "listener", "method", "route", "status"],
)
REFERENCE_COVERAGE_END = Gauge(
    "ehub_reference_coverage_end_timestamp_seconds",
    "End (Unix time, end of the last day) of the loaded reference table's coverage; +Inf if open",
    ["service", "table"],
)

DEAD_LETTERS = Gauge(
    "ehub_dead_letters",
    "Dead letters retained in the service's dead-letter topic, by state (new, replayed, discarded)",
    ["service", "state"],
)
DEAD_LETTER_OLDEST_NEW_AGE = Gauge(
    "ehub_dead_letter_oldest_new_age_seconds",
    "Age of the oldest dead letter nobody replayed or discarded yet (0: none); they expire at 30 d",
    ["service"],
)
DEAD_LETTER_WATCHED_AT = Gauge(
    "ehub_dead_letter_watch_timestamp_seconds",
    "Unix time the dead-letter gauges were last brought up to date",
    ["service"],
)

# Sampled every metrics_sample_seconds by shared.sampler, apart from the happy path: they keep
# moving when the relay or the consumer is stuck. Every replica reports the same values.
OUTBOX_BACKLOG = Gauge(
    "ehub_outbox_backlog_rows",
    "Outbox rows committed but not yet acknowledged by the broker",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "ehub_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0: the outbox is empty)",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "ehub_consumer_lag_messages",
    "Messages of a subscribed partition past the consumer group's committed offset",
    ["service", "topic", "partition"],
)
SAMPLER_LAST_SUCCESS = Gauge(
    "ehub_sampler_last_success_timestamp_seconds",
    "Unix time of the last successful measurement by a sampler probe (its gauges' freshness)",
    ["service", "probe"],
)
SAMPLER_FAILURES = Counter(
    "ehub_sampler_failures",
    "Sampler probes that failed (database or broker unreachable, timeout)",
    ["service", "probe"],
)


_AT_COMMIT = "metrics.at_commit"


def at_commit(session: AsyncSession, record: Callable[[], None]) -> None:
    """Run `record` (a metric update) once the session's transaction commits, and never if it
    rolls back: a consumer batch that is rolled back and handled again counts once."""
    pending: list[Callable[[], None]] | None = session.info.get(_AT_COMMIT)
    if pending is None:
        pending = session.info[_AT_COMMIT] = []
        event.listen(session.sync_session, "after_commit", _record_pending)
        event.listen(session.sync_session, "after_transaction_end", _forget_pending)
    pending.append(record)


def _record_pending(session: Session) -> None:
    pending = session.info[_AT_COMMIT]
    for record in pending:
        record()
    pending.clear()


def _forget_pending(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info[_AT_COMMIT].clear()
