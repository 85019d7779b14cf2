"""The one place that builds Kafka clients, so every service talks to the broker alike."""

from __future__ import annotations

import contextlib

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context

from shared.events import Topics, dead_letter_resolutions_topic, dead_letter_topic
from shared.settings import ServiceSettings

SERVICES = ("orders", "payments", "customs", "fulfillment")
DEFAULT_PARTITIONS = 6
# A dead letter waits for an operator: kept 30 days, not the broker's 7, and alerted on long
# before it expires (deploy/observability/alerts/dead-letters.yaml). Its resolution (replayed,
# discarded) is kept as long, compacted to the latest per letter.
DEAD_LETTER_RETENTION_MS = 30 * 24 * 3600 * 1000
DEAD_LETTER_CONFIG = {"retention.ms": str(DEAD_LETTER_RETENTION_MS)}
RESOLUTIONS_CONFIG = DEAD_LETTER_CONFIG | {"cleanup.policy": "compact,delete"}


def client_id(settings: ServiceSettings, role: str) -> str:
    """The id a service's Kafka client of `role` (producer, consumer) presents to the broker;
    its spans carry it as `messaging.client.id`."""
    return f"{settings.service_name}-{role}"


def connection_options(settings: ServiceSettings) -> dict[str, object]:
    """Where the brokers are and how to authenticate to them, the same for every client."""
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_security_protocol.startswith("SASL_"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
    return options


def reliable_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    """Idempotent producer waiting for all in-sync replicas: no duplicates from its own retries."""
    return AIOKafkaProducer(
        **connection_options(settings),
        client_id=client_id(settings, "producer"),
        enable_idempotence=True,
        acks="all",
        # The relay hands a whole pass to the producer at once: a few ms of linger and large
        # batches turn it into a handful of produce requests.
        linger_ms=5,
        max_batch_size=512 * 1024,
        request_timeout_ms=15_000,
    )


def manual_commit_consumer(settings: ServiceSettings, topics: list[str]) -> AIOKafkaConsumer:
    """Offsets are committed by the runtime only after a message's transaction committed."""
    return AIOKafkaConsumer(
        *topics,
        **connection_options(settings),
        group_id=settings.consumer_group,
        client_id=client_id(settings, "consumer"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=max(settings.consumer_batch_size, 100),
    )


def all_topics(prefix: str = "") -> list[str]:
    return list(_topic_configs(prefix))


def _topic_configs(prefix: str) -> dict[str, dict[str, str]]:
    """Every topic of the hub with the configuration it must have beyond the broker's."""
    configs: dict[str, dict[str, str]] = {f"{prefix}{topic}": {} for topic in Topics.ALL}
    for service in SERVICES:
        configs[dead_letter_topic(f"{prefix}{service}")] = DEAD_LETTER_CONFIG
        configs[dead_letter_resolutions_topic(f"{prefix}{service}")] = RESOLUTIONS_CONFIG
    return configs


async def ensure_topics(
    bootstrap_servers: str, prefix: str = "", partitions: int = DEFAULT_PARTITIONS
) -> list[str]:
    """Create the event and dead-letter topics explicitly, returning those created; set the
    dead-letter topics' retention on existing ones too (a stack created before it had 7 days)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ehub-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = _topic_configs(prefix)
        wanted = [name for name in configs if name not in existing]
        for name in wanted:
            topic = NewTopic(
                name=name,
                # A letter's resolution is looked up by its id: one partition keeps them all.
                num_partitions=1 if configs[name] is RESOLUTIONS_CONFIG else partitions,
                replication_factor=1,
                topic_configs=configs[name],
            )
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([topic])
        configured = [
            ConfigResource(ConfigResourceType.TOPIC, name, configs=config)
            for name, config in configs.items()
            if config and name in existing
        ]
        if configured:
            await admin.alter_configs(configured)
        return wanted
    finally:
        await admin.close()
