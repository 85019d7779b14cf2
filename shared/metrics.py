"""Prometheus metrics shared by the runtime of every service, served on `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "ehub_events_published_total",
    "Events relayed from the outbox to Kafka",
    ["service"],
)
OUTBOX_LAG_SECONDS = Gauge(
    "ehub_outbox_lag_seconds",
    "Age of the oldest row in the last relayed batch",
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
    "HTTP request latency",
    ["service", "method", "route", "status"],
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
