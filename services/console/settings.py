"""Console settings: where the four services' operator APIs and the trace UI answer."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """The console holds no data: it reads and acts through the operator APIs only."""

    model_config = SettingsConfigDict(env_prefix="CONSOLE_", extra="ignore", frozen=True)

    orders_url: str = Field(default="http://127.0.0.1:9001", description="orders admin listener")
    payments_url: str = "http://127.0.0.1:9002"
    customs_url: str = "http://127.0.0.1:9003"
    fulfillment_url: str = "http://127.0.0.1:9004"
    trace_ui_url: str = Field(
        default="http://127.0.0.1:9411/zipkin",
        description="Zipkin's UI; its API (…/api/v2) is asked for an order's trace id",
    )
    session_secret: str = Field(
        default="dev-console-session-secret",
        description="Signs the sign-in cookie; set a long random value outside a local stack",
    )
    secure_cookie: bool = Field(default=False, description="Send the cookie over HTTPS only")
    session_hours: int = Field(default=8, ge=1, le=24, description="A sign-in lasts one shift")
    request_timeout_seconds: float = 5.0
    log_level: str = "INFO"

    def service_url(self, service: str) -> str:
        return getattr(self, f"{service}_url")
