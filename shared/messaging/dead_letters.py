"""Inspect, replay and discard a service's dead letters; watch how long they wait.

A dead letter keeps the original message and headers plus the `dlq.*` headers the consumer
added. Each letter has a state: `new` until an operator replays it (publishes it again to its
original topic, once the cause is fixed) or discards it. Letters are immutable records of the
dead-letter topic, so the state lives beside them, in the compacted topic
`<group>.dlq.resolutions`: one record per resolved letter, keyed by its id, saying what was
done, when and by whom. Both topics keep 30 days (shared.messaging.kafka); the gauges below
say how old the oldest unresolved letter is, so an alert fires long before one expires.

Replaying is safe against an order that has moved on: docs/dead-letters.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.structs import ConsumerRecord

from shared.events import dead_letter_resolutions_topic, dead_letter_topic
from shared.messaging.kafka import connection_options, reliable_producer
from shared.metrics import DEAD_LETTER_OLDEST_NEW_AGE, DEAD_LETTER_WATCHED_AT, DEAD_LETTERS
from shared.settings import ServiceSettings

log = logging.getLogger(__name__)

DLQ_HEADER_PREFIX = "dlq."
# Listings and gauges read this many letters at most (the oldest of each partition first).
WATCHED_LETTERS = 10_000


class LetterState(StrEnum):
    NEW = "new"
    REPLAYED = "replayed"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class Resolution:
    state: LetterState
    at: str
    by: str
    letter_failed_at: str  # a recreated topic reuses ids: a resolution names its letter's time
    reason: str | None = None

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "state": self.state.value,
                "at": self.at,
                "by": self.by,
                "letter_failed_at": self.letter_failed_at,
                "reason": self.reason,
            }
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Resolution:
        fields = json.loads(raw)
        return cls(**{**fields, "state": LetterState(fields["state"])})


@dataclass(frozen=True)
class DeadLetter:
    partition: int
    offset: int
    key: str | None
    original_topic: str
    reason: str
    error_type: str
    error_message: str
    failed_at: str
    attempts: int
    written_at_ms: int  # the dead-letter record's own timestamp, set by the consumer's producer
    value: bytes
    original_headers: list[tuple[str, bytes]]
    resolution: Resolution | None = None

    @property
    def id(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def state(self) -> LetterState:
        return self.resolution.state if self.resolution else LetterState.NEW


def _dead_letter(record: ConsumerRecord) -> DeadLetter:
    headers = list(record.headers or ())
    dlq = {
        key[len(DLQ_HEADER_PREFIX) :]: value.decode()
        for key, value in headers
        if key.startswith(DLQ_HEADER_PREFIX)
    }
    return DeadLetter(
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode() if record.key else None,
        original_topic=dlq.get("original.topic", ""),
        reason=dlq.get("reason", ""),
        error_type=dlq.get("error.type", ""),
        error_message=dlq.get("error.message", ""),
        failed_at=dlq.get("failed_at", ""),
        attempts=int(dlq.get("attempts", "0")),
        written_at_ms=record.timestamp,
        value=record.value or b"",
        original_headers=[(k, v) for k, v in headers if not k.startswith(DLQ_HEADER_PREFIX)],
    )


async def _read_topic(
    settings: ServiceSettings, topic: str, limit: int | None
) -> list[ConsumerRecord]:
    """The records retained in `topic` up to its current end (`limit` at most); commits nothing."""
    # Without a group, a subscribing consumer is assigned every partition and commits nothing.
    consumer = AIOKafkaConsumer(
        topic,
        **connection_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id=f"{settings.service_name}-dlq-reader-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end = await consumer.end_offsets(partitions)
        found: list[ConsumerRecord] = []
        remaining = {tp for tp in partitions if end[tp] > 0}
        while remaining and (limit is None or len(found) < limit):
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            if not batches:
                break
            for tp, records in batches.items():
                found += [record for record in records if record.offset < end[tp]]
                if records and records[-1].offset >= end[tp] - 1:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


async def _resolutions(settings: ServiceSettings) -> dict[str, Resolution]:
    """The latest resolution of each letter (the topic is compacted, so it stays small)."""
    topic = dead_letter_resolutions_topic(settings.consumer_group)
    resolutions: dict[str, Resolution] = {}
    for record in sorted(await _read_topic(settings, topic, None), key=lambda r: r.offset):
        if record.key and record.value:
            resolutions[record.key.decode()] = Resolution.from_bytes(record.value)
    return resolutions


async def read_dead_letters(
    settings: ServiceSettings, limit: int = 100, state: LetterState | None = None
) -> list[DeadLetter]:
    """The oldest `limit` dead letters still retained (in `state` only, if given), each with
    its resolution, among the first `WATCHED_LETTERS`."""
    records, resolutions = await asyncio.gather(
        _read_topic(settings, dead_letter_topic(settings.consumer_group), WATCHED_LETTERS),
        _resolutions(settings),
    )
    letters = []
    for record in records:
        letter = _dead_letter(record)
        resolution = resolutions.get(letter.id)
        if resolution is not None and resolution.letter_failed_at == letter.failed_at:
            letter = replace(letter, resolution=resolution)
        if state is None or letter.state is state:
            letters.append(letter)
    return sorted(letters, key=lambda letter: letter.failed_at)[:limit]


async def _resolve(
    settings: ServiceSettings,
    letters: list[DeadLetter],
    state: LetterState,
    by: str,
    reason: str | None = None,
) -> None:
    producer = reliable_producer(settings)
    await producer.start()
    try:
        at = datetime.now(UTC).isoformat()
        topic = dead_letter_resolutions_topic(settings.consumer_group)
        for letter in letters:
            resolution = Resolution(state, at, by, letter.failed_at, reason)
            await producer.send_and_wait(topic, key=letter.id.encode(), value=resolution.to_bytes())
    finally:
        await producer.stop()


async def replay(settings: ServiceSettings, letters: list[DeadLetter], by: str) -> int:
    """Publish each dead letter again to the topic it came from, then mark it replayed by
    operator `by`; returns how many. A crash between the two leaves a letter `new` that was
    republished: replaying it again is harmless, the inbox skips an event it has handled."""
    producer = reliable_producer(settings)
    await producer.start()
    try:
        for letter in letters:
            headers = letter.original_headers + [
                (
                    "dlq.replayed_from",
                    f"{dead_letter_topic(settings.consumer_group)}:{letter.id}".encode(),
                )
            ]
            await producer.send_and_wait(
                letter.original_topic,
                value=letter.value,
                key=letter.key.encode() if letter.key else None,
                headers=headers,
            )
    finally:
        await producer.stop()
    await _resolve(settings, letters, LetterState.REPLAYED, by)
    log.info(
        "dead letters replayed",
        extra={"letters": [letter.id for letter in letters], "operator": by},
    )
    return len(letters)


async def discard(
    settings: ServiceSettings, letters: list[DeadLetter], by: str, reason: str
) -> int:
    """Mark dead letters as handled without replaying them (their event is obsolete)."""
    await _resolve(settings, letters, LetterState.DISCARDED, by, reason)
    log.info(
        "dead letters discarded",
        extra={"letters": [letter.id for letter in letters], "operator": by},
    )
    return len(letters)


def record_gauges(settings: ServiceSettings, letters: list[DeadLetter], now: datetime) -> None:
    """Letters by state, and the age of the oldest one nobody has replayed or discarded yet."""
    service = settings.service_name
    for state in LetterState:
        DEAD_LETTERS.labels(service, state.value).set(
            sum(1 for letter in letters if letter.state is state)
        )
    waiting = [letter.written_at_ms for letter in letters if letter.state is LetterState.NEW]
    now_ms = now.timestamp() * 1000
    oldest_ms = min(waiting, default=now_ms)
    DEAD_LETTER_OLDEST_NEW_AGE.labels(service).set(max(now_ms - oldest_ms, 0.0) / 1000)
    DEAD_LETTER_WATCHED_AT.labels(service).set(now.timestamp())
