"""A send span ends when the broker answers: with the record's partition and offset, or the
failure."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaTimeoutError
from aiokafka.structs import RecordMetadata, TopicPartition
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from shared.messaging.relay import _end_send_span


def send_span(exporter: InMemorySpanExporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test").start_span("send orders.events", kind=SpanKind.PRODUCER)


async def test_the_span_ends_at_the_acknowledgement_with_partition_and_offset():
    exporter = InMemorySpanExporter()
    span = send_span(exporter)
    delivery = asyncio.get_running_loop().create_future()
    delivery.add_done_callback(lambda settled: _end_send_span(span, settled))
    await asyncio.sleep(0)
    assert exporter.get_finished_spans() == ()  # handed to the producer, not yet acknowledged

    delivery.set_result(
        RecordMetadata("orders.events", 4, TopicPartition("orders.events", 4), 1207, -1, 0, None)
    )
    await asyncio.sleep(0)

    [finished] = exporter.get_finished_spans()
    assert finished.attributes["messaging.destination.partition.id"] == "4"
    assert finished.attributes["messaging.kafka.offset"] == 1207
    assert finished.status.status_code is StatusCode.UNSET


async def test_a_refused_send_ends_its_span_with_the_error():
    exporter = InMemorySpanExporter()
    span = send_span(exporter)
    delivery = asyncio.get_running_loop().create_future()
    delivery.add_done_callback(lambda settled: _end_send_span(span, settled))

    delivery.set_exception(KafkaTimeoutError())
    await asyncio.sleep(0)

    [finished] = exporter.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert finished.attributes["error.type"] == "KafkaTimeoutError"
    assert [event.name for event in finished.events] == ["exception"]
    delivery.exception()  # retrieved, as the relay's gather does
