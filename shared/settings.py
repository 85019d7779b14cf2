"""The one settings loader: every service's settings extend `ServiceSettings`.

Values come from environment variables (as on Kubernetes) with local defaults
that match what `make up` starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_POSTGRES_HOST = "127.0.0.1"
LOCAL_POSTGRES_PORT = 55432
LOCAL_KAFKA_BOOTSTRAP = "127.0.0.1:19092"


def local_database_url(service: str) -> str:
    """The development database of `service`, reachable only with that service's own role."""
    return (
        f"postgresql+asyncpg://{service}:{service}-dev@"
        f"{LOCAL_POSTGRES_HOST}:{LOCAL_POSTGRES_PORT}/ehub_{service}"
    )


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    service_name: str
    database_url: str
    kafka_bootstrap_servers: str = LOCAL_KAFKA_BOOTSTRAP
    kafka_topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name, to run isolated stacks on one broker",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="PLAINTEXT on the local broker; SASL_SSL on Kubernetes (TLS + SCRAM)",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: str = ""
    kafka_ssl_cafile: str = Field(
        default="",
        description="CA certificate(s) the brokers' certificates chain to; empty: the system's",
    )
    http_port: int = Field(default=8000, description="Listener of the partner-facing API")
    admin_port: int = Field(
        default=9000,
        description="Listener of the operator API and /metrics, not behind the partner Ingress",
    )
    migrate_on_start: bool = True
    db_pool_size: int = Field(
        default=30,
        description="Connections kept open: opening one (a backend forked, SCRAM, the"
        " driver's type introspection, every statement prepared again) costs more than a batch",
    )
    db_max_overflow: int = Field(
        default=0,
        ge=0,
        description="Connections opened beyond the pool for a burst and closed after it; under"
        " a load that hovers at the pool's size each one is a new connection, so none by"
        " default: a burst waits for a pooled connection instead",
    )
    outbox_poll_interval_seconds: float = 0.5
    outbox_batch_size: int = Field(default=1000, ge=1, description="Rows per relay pass at most")
    outbox_gather_seconds: float = Field(
        default=0.005,
        ge=0,
        description="How long the relay lets rows gather after a wake-up, to publish in batches",
    )
    consumer_batch_size: int = Field(
        default=500,
        ge=1,
        description="Events handled in one database transaction at most (1: one per event)",
    )
    consumer_gather_seconds: float = Field(
        default=0.01,
        ge=0,
        description="How long a consumer lets more events arrive after a poll brought some,"
        " to handle them in one batch (each batch costs its transaction whatever its size)",
    )
    consumer_commit_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        description="How often a busy consumer commits its offsets (0: after every batch); an idle"
        " one commits at its next empty poll. A restart redelivers at most this much, and the"
        " inbox drops it",
    )
    metrics_sample_seconds: float = Field(
        default=15,
        gt=0,
        description="How often shared.sampler measures outbox backlog, consumer lag and the like",
    )
    dead_letter_watch_seconds: float = Field(
        default=60, gt=0, description="How often the dead-letter gauges are brought up to date"
    )
    consumer_max_attempts: int = Field(
        default=3,
        description="Attempts at a failing handler before its message is dead-lettered",
    )
    otel_traces_exporter: Literal["none", "console", "otlp", "zipkin"] = Field(
        default="none",
        description="Where spans go: an OTLP collector (production), a Zipkin server (make up)",
    )
    otel_exporter_otlp_endpoint: str = "http://127.0.0.1:4318"
    otel_exporter_zipkin_endpoint: str = "http://127.0.0.1:9411/api/v2/spans"
    otel_traces_sampler_ratio: float = Field(
        default=1.0,
        ge=0,
        le=1,
        description="Share of new traces recorded; a span follows its parent's decision",
    )
    log_level: str = "INFO"
    operator_credentials_file: Path | None = Field(
        default=None,
        description="Operators' hashed keys with their roles (python -m shared.operators)",
    )
    oidc_issuer: str | None = Field(
        default=None, description="Accept operators' OIDC tokens from this issuer (iss)"
    )
    oidc_audience: str = "liege-ehub-operators"
    oidc_jwks_url: str | None = Field(default=None, description="The issuer's JWKS")
    oidc_jwks_file: Path | None = Field(default=None, description="Or the JWKS as a file")
    oidc_operator_claim: str = Field(default="sub", description="The claim audits record")
    oidc_roles_claim: str = Field(default="roles", description="The claim listing roles")

    @property
    def consumer_group(self) -> str:
        return f"{self.kafka_topic_prefix}{self.service_name}"

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"

    @property
    def source(self) -> str:
        """CloudEvents `source` of the events this service emits."""
        return f"/liege-ehub/{self.service_name}"
