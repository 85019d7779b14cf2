"""OpenTelemetry set-up and W3C trace-context propagation through Kafka headers and the outbox.

One order is one trace, from `POST /v1/orders` to `DELIVERED`: the outbox stores the context
each event was emitted in, the relay's `send` span and the consumer's `process` span carry it
through Kafka, and a shipment keeps the context it was created in so that later scans (the
hub clock's, an operator's) continue the trace (`continued_trace`).
"""

from __future__ import annotations

import random
import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.context import Context, attach, detach
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.util.types import Attributes
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.settings import ServiceSettings

# Names the event a Kafka record carries, so consumers skip what they do not handle unparsed.
EVENT_TYPE_HEADER = "ce_type"

_configured = False


def tracing_records(settings: ServiceSettings) -> bool:
    """Whether any span is recorded: without an exporter (or at ratio 0) none is."""
    return settings.otel_traces_exporter != "none" and settings.otel_traces_sampler_ratio > 0


class TracesStartAtWork(Sampler):
    """Decides for spans without a parent: a trace starts at a request, an event, a scan,
    never at a bare database statement (a CLIENT span with no parent). The polling loops
    (outbox relay, hub clock, webhook deliveries, payment expiry) query every half second;
    each statement of a poll that found nothing would otherwise be a one-span trace. The
    rest is kept at the configured ratio."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT:
            return SamplingResult(Decision.DROP, None, trace_state)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"TracesStartAtWork{{{self._ratio.get_description()}}}"


def sampler(settings: ServiceSettings) -> Sampler:
    """Parent-based: a span follows its parent's decision, so a trace is whole or absent.
    With no exporter nothing is recorded (a span that goes nowhere costs CPU for nothing),
    yet trace ids still propagate and reach the logs."""
    if not tracing_records(settings):
        return ALWAYS_OFF
    return ParentBased(TracesStartAtWork(settings.otel_traces_sampler_ratio))


def _exporter(settings: ServiceSettings) -> SpanExporter | None:
    if settings.otel_traces_exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint)
    if settings.otel_traces_exporter == "zipkin":
        from opentelemetry.exporter.zipkin.json import ZipkinExporter

        return ZipkinExporter(endpoint=settings.otel_exporter_zipkin_endpoint)
    return None


def configure_tracing(settings: ServiceSettings) -> None:
    """Install the global tracer provider once per process; the exporter is a setting:
    OTLP to a collector in production, Zipkin on `make up`, the console, or none."""
    global _configured
    if _configured:
        return
    provider = TracerProvider(
        sampler=sampler(settings),
        resource=Resource.create(
            {"service.name": settings.service_name, "service.namespace": "liege-ehub"}
        ),
    )
    if settings.otel_traces_exporter == "console":
        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    exporter = _exporter(settings)
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
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


@contextmanager
def continued_trace(
    tracer: trace.Tracer,
    carrier: Mapping[str, str] | None,
    name: str,
    attributes: Attributes = None,
) -> Iterator[trace.Span]:
    """A step taken later for a flow that is traced (a scan of an order's shipment, by the hub
    clock or an operator) joins the flow's trace: the span's parent is the stored `carrier`,
    and it links the span current now (an operator's request), whose trace is its own."""
    current = trace.get_current_span().get_span_context()
    with tracer.start_as_current_span(
        name,
        context=context_from(carrier or {}),
        kind=SpanKind.INTERNAL,
        links=[Link(current)] if current.is_valid else None,
        attributes=attributes,
    ) as span:
        yield span


def kafka_span_attributes(bootstrap_servers: str, client_id: str) -> dict[str, str | int]:
    """What every Kafka span says of its client (messaging semantic conventions): the system,
    the broker it was pointed at (the first bootstrap server) and its client id."""
    host, _, port = bootstrap_servers.split(",")[0].strip().rpartition(":")
    return {
        "messaging.system": "kafka",
        "server.address": host,
        "server.port": int(port),
        "messaging.client.id": client_id,
    }


def kafka_headers(carrier: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(key, value.encode()) for key, value in carrier.items()]


def carrier_from_kafka_headers(headers: object) -> dict[str, str]:
    pairs = headers or ()
    return {key: value.decode(errors="replace") for key, value in pairs if value is not None}  # type: ignore[union-attr]


# The request headers W3C propagation reads (trace context and baggage).
_PROPAGATED_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


class RequestTraceContext:
    """What the ASGI instrumentation leaves a request when no span is recorded, without its
    per-request attributes, route lookup and timers: a trace context, current while the
    request runs, that continues the caller's `traceparent` or starts a new trace (not
    sampled). The request's log lines and the events it emits carry that trace."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        carrier = {
            key.decode("latin-1"): value.decode("latin-1")
            for key, value in scope["headers"]
            if key in _PROPAGATED_HEADERS
        }
        context = context_from(carrier) if carrier else None
        parent = trace.get_current_span(context).get_span_context()
        span = NonRecordingSpan(
            SpanContext(
                parent.trace_id if parent.is_valid else random.getrandbits(128),
                random.getrandbits(64),
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.DEFAULT),
                trace_state=parent.trace_state,
            )
        )
        with use_context(trace.set_span_in_context(span, context)):
            await self._app(scope, receive, send)
