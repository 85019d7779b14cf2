"""OpenTelemetry set-up and W3C trace-context propagation through Kafka headers and the outbox."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased, TraceIdRatioBased

from shared.settings import ServiceSettings

# Names the event a Kafka record carries, so consumers skip what they do not handle unparsed.
EVENT_TYPE_HEADER = "ce_type"

_configured = False


def tracing_records(settings: ServiceSettings) -> bool:
    """Whether any span is recorded: without an exporter (or at ratio 0) none is."""
    return settings.otel_traces_exporter != "none" and settings.otel_traces_sampler_ratio > 0


def configure_tracing(settings: ServiceSettings) -> None:
    """Install the global tracer provider once per process; the exporter is a setting."""
    global _configured
    if _configured:
        return
    # With no exporter nothing is recorded (a span that goes nowhere costs CPU for nothing),
    # yet trace ids still propagate and reach the logs.
    sampler = (
        ParentBased(TraceIdRatioBased(settings.otel_traces_sampler_ratio))
        if tracing_records(settings)
        else ALWAYS_OFF
    )
    provider = TracerProvider(
        sampler=sampler,
        resource=Resource.create(
            {"service.name": settings.service_name, "service.namespace": "liege-ehub"}
        ),
    )
    if settings.otel_traces_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif settings.otel_traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_context() -> dict[str, str]:
    """The W3C `traceparent`/`tracestate` of the active span, to store or send along."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def untraced_context() -> dict[str, str]:
    """A W3C context of a new trace, not sampled: ids for the logs, no span recorded."""
    return {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"}


def context_from(carrier: Mapping[str, str]) -> Context:
    return propagate.extract(dict(carrier))


@contextmanager
def use_context(context: Context) -> Iterator[None]:
    """Make `context` current for the block (log lines written in it carry its trace)."""
    token = attach(context)
    try:
        yield
    finally:
        detach(token)


def kafka_headers(carrier: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(key, value.encode()) for key, value in carrier.items()]


def carrier_from_kafka_headers(headers: object) -> dict[str, str]:
    pairs = headers or ()
    return {key: value.decode(errors="replace") for key, value in pairs if value is not None}  # type: ignore[union-attr]
