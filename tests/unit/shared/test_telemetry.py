"""Which spans are recorded: traces start at work, never at a polling loop's statement."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    TraceFlags,
    set_span_in_context,
)

from shared.settings import ServiceSettings
from shared.telemetry import (
    RequestTraceContext,
    context_from,
    continued_trace,
    current_trace_context,
    kafka_span_attributes,
    sampler,
)


def settings(**overrides) -> ServiceSettings:
    values = {
        "service_name": "orders",
        "database_url": "postgresql+asyncpg://x@127.0.0.1/x",
        "otel_traces_exporter": "zipkin",
    }
    return ServiceSettings(**(values | overrides))


@pytest.fixture
def recorded() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler(settings()))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_statement_outside_any_trace_records_nothing(recorded):
    provider, exporter = recorded
    tracer = provider.get_tracer("test")

    with tracer.start_as_current_span("SELECT ehub_fulfillment", kind=SpanKind.CLIENT) as span:
        assert not span.is_recording()

    assert exporter.get_finished_spans() == ()


def test_a_statement_inside_a_request_is_in_its_trace(recorded):
    provider, exporter = recorded
    tracer = provider.get_tracer("test")

    with (
        tracer.start_as_current_span("POST /v1/orders", kind=SpanKind.SERVER),
        tracer.start_as_current_span("INSERT ehub_orders", kind=SpanKind.CLIENT),
    ):
        pass

    request, statement = sorted(exporter.get_finished_spans(), key=lambda s: s.kind.value)
    assert [request.name, statement.name] == ["POST /v1/orders", "INSERT ehub_orders"]
    assert statement.parent.span_id == request.context.span_id
    assert statement.context.trace_id == request.context.trace_id


@pytest.mark.parametrize("kind", [SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.PRODUCER])
def test_requests_scans_and_sends_start_traces(recorded, kind):
    provider, exporter = recorded

    with provider.get_tracer("test").start_as_current_span("work", kind=kind):
        pass

    assert [span.name for span in exporter.get_finished_spans()] == ["work"]


@pytest.mark.parametrize("sampled", [True, False])
def test_a_span_follows_its_parents_decision(recorded, sampled):
    provider, exporter = recorded
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=flags)

    with provider.get_tracer("test").start_as_current_span(
        "process orders.events",
        context=set_span_in_context(NonRecordingSpan(parent)),
        kind=SpanKind.CONSUMER,
    ) as span:
        assert span.is_recording() is sampled

    assert [s.context.trace_id for s in exporter.get_finished_spans()] == [0x1234] * sampled


@pytest.mark.parametrize(
    "overrides", [{"otel_traces_exporter": "none"}, {"otel_traces_sampler_ratio": 0}]
)
def test_nothing_is_recorded_without_an_exporter_or_at_ratio_zero(overrides):
    assert sampler(settings(**overrides)) is ALWAYS_OFF


def test_kafka_spans_name_the_broker_and_the_client():
    assert kafka_span_attributes("127.0.0.1:19092,127.0.0.2:19092", "orders-producer") == {
        "messaging.system": "kafka",
        "server.address": "127.0.0.1",
        "server.port": 19092,
        "messaging.client.id": "orders-producer",
    }


def test_a_later_step_continues_the_stored_trace_and_links_the_request(recorded):
    provider, exporter = recorded
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("process orders.events", kind=SpanKind.CONSUMER) as created:
        stored = current_trace_context()

    with (
        tracer.start_as_current_span(
            "POST /v1/shipments/{id}/scans", kind=SpanKind.SERVER
        ) as request,
        continued_trace(tracer, stored, "scan DEP", {"ehub.scan_code": "DEP"}) as scan,
    ):
        emitted = current_trace_context()

    assert scan.context.trace_id == created.context.trace_id != request.context.trace_id
    assert scan.parent.span_id == created.context.span_id
    assert [link.context.span_id for link in scan.links] == [request.context.span_id]
    # What the scan emits carries the scan's context: the event continues the order's trace.
    carried = trace.get_current_span(context_from(emitted)).get_span_context()
    assert (carried.trace_id, carried.span_id) == (scan.context.trace_id, scan.context.span_id)


def test_a_step_of_a_flow_without_stored_context_starts_its_own_trace(recorded):
    provider, exporter = recorded

    with continued_trace(provider.get_tracer("test"), {}, "scan DEP") as scan:
        pass

    assert scan.parent is None
    assert scan.links == ()
    assert [span.name for span in exporter.get_finished_spans()] == ["scan DEP"]


async def _context_seen_by_an_app(headers: list[tuple[bytes, bytes]]) -> SpanContext:
    seen: list[SpanContext] = []

    async def app(scope, receive, send) -> None:
        seen.append(trace.get_current_span().get_span_context())
        carrier = current_trace_context()
        assert carrier["traceparent"].endswith(f"{seen[0].span_id:016x}-00")

    await RequestTraceContext(app)({"type": "http", "headers": headers}, None, None)
    [context] = seen
    return context


async def test_an_untraced_request_continues_the_callers_trace_without_sampling_it():
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    context = await _context_seen_by_an_app([(b"traceparent", caller.encode())])
    assert context.is_valid
    assert f"{context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{context.span_id:016x}" != "b7ad6b7169203331"
    assert not context.trace_flags.sampled
    assert trace.get_current_span().get_span_context() == trace.INVALID_SPAN_CONTEXT


async def test_an_untraced_request_without_a_caller_starts_its_own_trace():
    first = await _context_seen_by_an_app([(b"accept", b"application/json")])
    second = await _context_seen_by_an_app([(b"traceparent", b"not a traceparent")])
    assert first.is_valid and second.is_valid
    assert first.trace_id != second.trace_id
    assert not first.trace_flags.sampled
