"""The services' Kafka clients against a broker secured as the Kubernetes one is: a TLS
listener with SCRAM-SHA-512, a server certificate signed by a CA of its own (Strimzi's
cluster CA), a user per service. A broker of this test's own, on loopback, from the
project's Kafka jars (scripts/bootstrap.sh); the producer and consumer are the ones the
services build (shared/messaging/kafka.py) with the settings the Deployment sets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError

from shared.messaging.kafka import manual_commit_consumer, reliable_producer
from shared.settings import ServiceSettings
from tests.infrastructure import devstack

pytestmark = pytest.mark.integration

USER, PASSWORD = "orders-kafka", "orders-scram-secret"
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def openssl(*arguments: str | Path) -> None:
    subprocess.run(["openssl", *map(str, arguments)], check=True, capture_output=True)


def certificates(directory: Path) -> tuple[Path, Path]:
    """A CA and a broker certificate for 127.0.0.1 it signed; returns (CA, broker PEM)."""
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    key, request, certificate = (
        directory / "broker.key",
        directory / "broker.csr",
        directory / "broker.crt",
    )
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=ehub-test-ca",
        "-keyout",
        ca_key,
        "-out",
        ca,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        key,
        "-out",
        request,
    )
    extensions = directory / "san.cnf"
    extensions.write_text(f"subjectAltName=IP:{HOST},DNS:localhost\n")
    openssl(
        "x509",
        "-req",
        "-in",
        request,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        extensions,
        "-out",
        certificate,
    )
    pkcs8 = directory / "broker.pkcs8.key"
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", key, "-out", pkcs8)
    keystore = directory / "broker.pem"
    keystore.write_text(pkcs8.read_text() + certificate.read_text())
    return ca, keystore


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    directory = tmp_path_factory.mktemp("kafka-scram")
    ca, keystore = certificates(directory)
    internal, secure, controller = free_port(), free_port(), free_port()
    properties = directory / "server.properties"
    properties.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.bootstrap.servers={HOST}:{controller}",
                f"listeners=INTERNAL://{HOST}:{internal},SECURE://{HOST}:{secure},"
                f"CONTROLLER://{HOST}:{controller}",
                f"advertised.listeners=INTERNAL://{HOST}:{internal},SECURE://{HOST}:{secure}",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SECURE:SASL_SSL",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=INTERNAL",
                "sasl.enabled.mechanisms=SCRAM-SHA-512",
                "listener.name.secure.scram-sha-512.sasl.jaas.config="
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
                "ssl.keystore.type=PEM",
                f"ssl.keystore.location={keystore}",
                f"log.dirs={directory / 'logs'}",
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )
    java = devstack.kafka_java
    cluster_id = subprocess.run(
        java("kafka.tools.StorageTool", "random-uuid", logs_dir=directory),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    subprocess.run(
        java(
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            cluster_id,
            "-c",
            str(properties),
            "--add-scram",
            f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]",
            logs_dir=directory,
        ),
        check=True,
        capture_output=True,
    )
    with (directory / "broker.log").open("w") as log:
        process = subprocess.Popen(
            java("kafka.Kafka", str(properties), heap="-Xmx384m", logs_dir=directory),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        devstack.wait_for(lambda: devstack.port_open(secure), "the SCRAM test broker", 90)
        yield {"internal": f"{HOST}:{internal}", "secure": f"{HOST}:{secure}", "ca": str(ca)}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def settings_for(broker: dict[str, str], **overrides: str) -> ServiceSettings:
    values = {
        "service_name": "orders",
        "database_url": "postgresql+asyncpg://unused@127.0.0.1/unused",
        "kafka_bootstrap_servers": broker["secure"],
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": USER,
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": broker["ca"],
    }
    return ServiceSettings(**(values | overrides))


async def create_topic(broker: dict[str, str], topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker["internal"])
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def test_the_service_clients_produce_and_consume_over_tls_with_scram(broker) -> None:
    topic = f"orders.events.{uuid.uuid4().hex[:8]}"
    await create_topic(broker, topic)
    settings = settings_for(broker)
    producer = reliable_producer(settings)
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"order placed", key=b"order-1")
    finally:
        await producer.stop()
    consumer = manual_commit_consumer(settings, [topic])
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    assert (record.offset, record.value, record.key) == (sent.offset, b"order placed", b"order-1")


async def test_a_wrong_password_is_refused(broker) -> None:
    producer = reliable_producer(settings_for(broker, kafka_sasl_password="not-the-password"))
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), timeout=30)
    await producer.stop()


async def test_a_broker_the_ca_did_not_sign_is_refused(broker) -> None:
    # The system's CAs do not know the cluster CA: the TLS handshake fails, nothing is sent.
    producer = reliable_producer(settings_for(broker, kafka_ssl_cafile=""))
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), timeout=30)
    await producer.stop()
