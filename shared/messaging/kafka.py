"""The one place that builds Kafka clients, so every service talks to the broker alike."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
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
    dead-letter topics' retention on existing ones too (a stack created before it had 7 days),
    returning only once the broker reads the new settings back."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="ehub-topics")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        configs = _topic_configs(prefix)
        created = []
        for name in [name for name in configs if name not in existing]:
            topic = NewTopic(
                name=name,
                # A letter's resolution is looked up by its id: one partition keeps them all.
                num_partitions=1 if configs[name] is RESOLUTIONS_CONFIG else partitions,
                replication_factor=1,
                topic_configs=configs[name],
            )
            try:
                await admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                # Created a moment ago by someone else, or not yet in the metadata listed.
                existing.add(name)
        configured = {
            name: config for name, config in configs.items() if config and name in existing
        }
        if configured:
            await _alter_topic_configs(admin, configured)
        return created
    finally:
        await admin.close()


async def _alter_topic_configs(
    admin: AIOKafkaAdminClient, configs: dict[str, dict[str, str]], timeout_s: float = 30.0
) -> None:
    """Set the topics' configs and wait until the broker describes them so: under KRaft a
    broker applies an accepted change when it replays the metadata log, a moment later."""
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, configs=c) for name, c in configs.items()
    ]
    for response in await admin.alter_configs(resources):
        for error_code, error_message, _type, name in response.resources:
            if error_code:
                raise KafkaError(
                    f"altering the config of topic {name} failed: {error_code} {error_message}"
                )
    deadline = asyncio.get_running_loop().time() + timeout_s
    pending = dict(configs)
    while True:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in pending]
        )
        for response in described:
            for resource in response.resources:
                name, entries = resource[3], {entry[0]: entry[1] for entry in resource[4]}
                if all(entries.get(key) == value for key, value in pending[name].items()):
                    del pending[name]
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise KafkaError(
                f"the broker did not apply the configs of {sorted(pending)} in {timeout_s} s"
            )
        await asyncio.sleep(0.1)
