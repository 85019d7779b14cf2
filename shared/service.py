"""Bootstrap of a service: its database, outbox relay and consumer behind two FastAPI apps.

Every service calls `create_service_app` with its partner routes, its operator routes, its
event handlers and the topics it listens to; the plumbing (migrations, relay, consumer,
health, metrics, dead letters, tracing, logs, error format) is the same for all four.
The partner app is what `create_service_app` returns; the operator/admin app (operator
routes, dead letters, /metrics) is served on a second listener by `shared.serve`, so the
partner Ingress never routes an operator path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.db import create_engine, database_reachable, session_factory
from shared.events import Event
from shared.fields import Paragraph
from shared.logging import configure_logging
from shared.messaging.consumer import EventConsumer, Handler, Prefetch
from shared.messaging.dead_letters import (
    WATCHED_LETTERS,
    DeadLetter,
    LetterState,
    discard,
    read_dead_letters,
    replay,
)
from shared.messaging.kafka import manual_commit_consumer, reliable_producer
from shared.messaging.relay import OutboxRelay
from shared.messaging.unit_of_work import UnitOfWork, UnitOfWorkFactory
from shared.metrics import HTTP_REQUESTS
from shared.migrations import upgrade_to_head
from shared.openapi import truthful_openapi
from shared.operators import (
    InvalidCredential,
    Operator,
    OperatorAuthenticator,
    Role,
    operator_authenticator,
)
from shared.problems import PROBLEM_RESPONSES, ProblemError, install_problem_handlers
from shared.sampler import Probe, Sampler
from shared.settings import ServiceSettings
from shared.telemetry import RequestTraceContext, configure_tracing, tracing_records

log = logging.getLogger(__name__)

BackgroundJob = Callable[["ServiceRuntime"], Awaitable[None]]

# A request's span comes from the OpenTelemetry instrumentor (`FastAPIInstrumentor`), which
# FastAPI's own telemetry then defers to; left on, every request still passes through its
# wrapper (and its check of the tracer provider) to record nothing. FastAPI's pass-through
# exception middleware stays in the stack either way.
NATIVE_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}


@dataclass
class ServiceRuntime:
    settings: ServiceSettings
    engine: AsyncEngine
    units_of_work: UnitOfWorkFactory
    relay_ready: bool = False
    consumer_ready: bool = False
    tasks: list[asyncio.Task] = field(default_factory=list)
    wake_relay: Callable[[], None] = lambda: None
    fetch_broker_metadata: Callable[[], Awaitable[object]] | None = None

    async def broker_answers(self) -> bool:
        """The clients run and the broker answers a metadata request now."""
        if not (self.relay_ready and self.consumer_ready and self.fetch_broker_metadata):
            return False
        try:
            await asyncio.wait_for(self.fetch_broker_metadata(), timeout=2)
        except Exception:
            return False
        return True


# A loop that failed is restarted after 0.5 s, then 1 s, then every 2 s: a loop whose
# infrastructure came back resumes within 2 s of it (the pipeline converges within 15 s of a
# database's return), and a loop that keeps failing costs one attempt every 2 s.
SUPERVISOR_FIRST_DELAY, SUPERVISOR_MAX_DELAY = 0.5, 2.0


async def _supervise(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """Keep a background loop alive: a broker or database outage restarts it, never ends it."""
    delay = SUPERVISOR_FIRST_DELAY
    while True:
        started = time.monotonic()
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning(
                "background task failed; restarting",
                extra={"task": name, "error_type": type(error).__name__, "retry_in": delay},
            )
        if time.monotonic() - started > 60:
            delay = SUPERVISOR_FIRST_DELAY
        await asyncio.sleep(delay)
        delay = min(delay * 2, SUPERVISOR_MAX_DELAY)


async def _migrate(settings: ServiceSettings, migrations_dir: Path, engine: AsyncEngine) -> None:
    deadline = time.monotonic() + 60
    while not await database_reachable(engine):
        if time.monotonic() > deadline:
            raise RuntimeError(f"database of {settings.service_name} unreachable")
        await asyncio.sleep(1)
    await asyncio.to_thread(upgrade_to_head, migrations_dir, settings.database_url)


def _relay_loop(runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        producer = reliable_producer(runtime.settings)
        await producer.start()
        try:
            relay = OutboxRelay(runtime.engine, producer, runtime.settings)
            runtime.wake_relay = relay.wake
            runtime.fetch_broker_metadata = producer.client.fetch_all_metadata
            runtime.relay_ready = True
            await relay.run()
        finally:
            runtime.relay_ready = False
            runtime.wake_relay = lambda: None
            runtime.fetch_broker_metadata = None
            await producer.stop()

    return run


def _consumer_loop(
    runtime: ServiceRuntime,
    topics: Sequence[str],
    handlers: Mapping[type[Event], Handler],
    prefetch: Prefetch | None,
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        settings = runtime.settings
        consumer = manual_commit_consumer(settings, [])
        dead_letters = reliable_producer(settings)
        events = EventConsumer(consumer, dead_letters, runtime.units_of_work, handlers, prefetch)
        events.subscribe([settings.topic(name) for name in topics])
        await dead_letters.start()
        await consumer.start()
        try:
            runtime.consumer_ready = True
            await events.run()
        finally:
            runtime.consumer_ready = False
            await consumer.stop()
            await dead_letters.stop()

    return run


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    migrations_dir: Path,
    routers: Sequence[APIRouter] = (),
    operator_routers: Sequence[APIRouter] = (),
    subscriptions: Sequence[str] = (),
    handlers: Mapping[type[Event], Handler] | None = None,
    prefetch: Prefetch | None = None,
    background_jobs: Sequence[BackgroundJob] = (),
    readiness_warnings: Callable[[], list[str]] = list,
    probes: Sequence[Probe] = (),
    version: str = "1.0.0",
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.service_name, settings.log_level)
        configure_tracing(settings)
        engine = create_engine(settings)
        if tracing_records(settings):
            # A span per statement is worth its cost only when spans are recorded.
            SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
        if settings.migrate_on_start:
            await _migrate(settings, migrations_dir, engine)
        runtime = ServiceRuntime(
            settings, engine, UnitOfWorkFactory(session_factory(engine), settings)
        )
        runtime.units_of_work.on_commit_with_events = lambda: runtime.wake_relay()
        app.state.runtime = admin.state.runtime = runtime
        runtime.tasks.append(asyncio.create_task(_supervise("outbox-relay", _relay_loop(runtime))))
        if subscriptions:
            consumer = _consumer_loop(runtime, subscriptions, handlers or {}, prefetch)
            runtime.tasks.append(asyncio.create_task(_supervise("consumer", consumer)))
        else:
            runtime.consumer_ready = True
        sampler = Sampler(
            settings, engine, [settings.topic(name) for name in subscriptions], probes
        )
        runtime.tasks.append(asyncio.create_task(_supervise("metrics-sampler", sampler.run)))
        for job in background_jobs:
            runtime.tasks.append(
                asyncio.create_task(_supervise(job.__name__, lambda job=job: job(runtime)))
            )
        log.info("service started", extra={"subscriptions": list(subscriptions)})
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            await asyncio.gather(*runtime.tasks, return_exceptions=True)
            await engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    admin = FastAPI(
        telemetry=NATIVE_TELEMETRY_OFF,
        title=f"{title} — operator API",
        description=(
            "Operator and admin routes of the service, on its admin listener (never behind "
            "the partner Ingress): operator routes, dead letters, /metrics."
        ),
        version=version,
    )
    for served, listener, served_routers in (
        (app, "http", [_health_router(), *routers]),
        (admin, "admin", [_health_router(), _admin_router(), *operator_routers]),
    ):
        served.state.settings = settings
        # Shown in /readyz's body without failing it (e.g. reference data about to run out).
        served.state.readiness_warnings = readiness_warnings
        install_problem_handlers(served)
        truthful_openapi(served)
        served.add_middleware(RequestLatency, service=settings.service_name, listener=listener)
        for router in served_routers:
            served.include_router(router)
        if tracing_records(settings):
            # One span per request: the ASGI messages' own send/receive spans say nothing more.
            FastAPIInstrumentor.instrument_app(
                served, excluded_urls="healthz,readyz,metrics", exclude_spans=["receive", "send"]
            )
        else:
            served.add_middleware(RequestTraceContext)
    admin.state.operators = operator_authenticator(settings)
    app.state.admin_app = admin
    return app


def admin_app_of(app: FastAPI) -> FastAPI:
    """The operator/admin app that `create_service_app` built beside the partner `app`."""
    return app.state.admin_app


def settings_of(app: FastAPI) -> ServiceSettings:
    return app.state.settings


class RequestLatency:
    """Records each request's latency by route and status (plain ASGI: no per-request task)."""

    def __init__(self, app: ASGIApp, service: str, listener: str) -> None:
        self._app = app
        self._service = service
        self._listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            HTTP_REQUESTS.labels(
                self._service,
                self._listener,
                scope["method"],
                getattr(route, "path", "unmatched"),
                str(status),
            ).observe(time.perf_counter() - started)


def _health_router() -> APIRouter:
    """Liveness and readiness, answered on both listeners."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Ready while the database answers: the outbox keeps taking orders through a broker
    # outage and the relay catches up when it returns, so a broker blip degrades the service
    # (reported here) rather than taking the partner API out of every load balancer.
    @router.get(
        "/readyz",
        summary="The database answers (the broker's state is reported)",
        responses={
            503: {
                "description": "Not ready (the same body)",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        runtime: ServiceRuntime = request.app.state.runtime
        database, broker = await asyncio.gather(
            database_reachable(runtime.engine), runtime.broker_answers()
        )
        checks = {"database": database, "broker": broker}
        status = "ready" if database and broker else "degraded" if database else "not ready"
        body = {"status": status, "checks": checks}
        warnings = request.app.state.readiness_warnings()
        if warnings:
            body["warnings"] = warnings
        return JSONResponse(body, status_code=200 if database else 503)

    return router


def _admin_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @router.get(
        "/v1/admin/dead-letters",
        summary="Messages this service could not process, oldest first, with their state",
        response_model=list[DeadLetterOut],
    )
    async def list_dead_letters(
        request: Request,
        _: Administrator,
        state: Annotated[
            LetterState | None, Query(description="Only letters in this state")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DeadLetterOut]:
        letters = await read_dead_letters(runtime_of(request).settings, limit, state)
        return [DeadLetterOut.of(letter) for letter in letters]

    @router.post(
        "/v1/admin/dead-letters/replay",
        summary="Publish new dead letters again to their original topic; they become replayed",
        responses=_UNKNOWN_OR_RESOLVED,
    )
    async def replay_dead_letters(
        request: Request, body: ReplayRequest, operator: Administrator
    ) -> dict[str, int]:
        settings = runtime_of(request).settings
        chosen = await _new_letters(settings, body.ids)
        return {"replayed": await replay(settings, chosen, operator.name)}

    @router.post(
        "/v1/admin/dead-letters/discard",
        summary="Close new dead letters without replaying them (their event is obsolete)",
        responses=_UNKNOWN_OR_RESOLVED,
    )
    async def discard_dead_letters(
        request: Request, body: DiscardRequest, operator: Administrator
    ) -> dict[str, int]:
        settings = runtime_of(request).settings
        chosen = await _new_letters(settings, body.ids)
        return {"discarded": await discard(settings, chosen, operator.name, body.reason)}

    return router


_UNKNOWN_OR_RESOLVED = {status: PROBLEM_RESPONSES[status] for status in (404, 409)}


async def _new_letters(settings: ServiceSettings, ids: list[str]) -> list[DeadLetter]:
    """The letters `ids`, all still new: an unknown id is a 404, a resolved one a 409."""
    wanted = set(ids)
    letters = [
        letter
        for letter in await read_dead_letters(settings, limit=WATCHED_LETTERS)
        if letter.id in wanted
    ]
    missing = wanted - {letter.id for letter in letters}
    if missing:
        raise ProblemError(
            404, "dead-letter-not-found", f"No dead letter {', '.join(sorted(missing))}"
        )
    resolved = [letter for letter in letters if letter.state is not LetterState.NEW]
    if resolved:
        raise ProblemError(
            409,
            "dead-letter-resolved",
            "Already resolved: "
            + ", ".join(
                f"{letter.id} ({letter.state} by {letter.resolution.by} at {letter.resolution.at})"
                for letter in resolved
                if letter.resolution
            ),
        )
    return letters


class ResolutionOut(BaseModel):
    at: str
    by: str = Field(description="The operator, as their credential names them")
    reason: str | None


class DeadLetterOut(BaseModel):
    id: str = Field(description="partition:offset in the dead-letter topic")
    key: str | None
    state: LetterState
    resolution: ResolutionOut | None = Field(description="When and by whom, once not new")
    original_topic: str
    reason: str = Field(description="unparseable, unsupported-schema-version, handler-failed, ...")
    error_type: str
    error_message: str
    failed_at: str
    attempts: int
    message: str = Field(description="The original message, as text")

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterOut:
        resolution = letter.resolution
        return cls(
            id=letter.id,
            key=letter.key,
            state=letter.state,
            resolution=(
                ResolutionOut(at=resolution.at, by=resolution.by, reason=resolution.reason)
                if resolution
                else None
            ),
            original_topic=letter.original_topic,
            reason=letter.reason,
            error_type=letter.error_type,
            error_message=letter.error_message,
            failed_at=letter.failed_at,
            attempts=letter.attempts,
            message=letter.value.decode(errors="replace")[:10_000],
        )


LetterId = Annotated[
    str, Field(pattern="^[0-9]{1,10}:[0-9]{1,19}$", description="partition:offset")
]
LetterIds = Annotated[
    list[LetterId], Field(min_length=1, max_length=1000, examples=[["0:12", "3:7"]])
]


class ReplayRequest(BaseModel):
    ids: LetterIds


class DiscardRequest(BaseModel):
    ids: LetterIds
    reason: Paragraph = Field(min_length=3, max_length=500, examples=["order cancelled meanwhile"])


def runtime_of(request: Request) -> ServiceRuntime:
    return request.app.state.runtime


async def unit_of_work(request: Request) -> AsyncIterator[UnitOfWork]:
    async with runtime_of(request).units_of_work() as uow:
        yield uow


UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work)]


def require_role(*roles: Role) -> Callable[[Request], Awaitable[Operator]]:
    """A dependency: the operator behind the request's credential, who must hold one of
    `roles` (an administrator holds them all). Never a partner key, never a header's say-so."""
    wanted = frozenset(roles)

    async def operator_in_role(request: Request) -> Operator:
        authenticator: OperatorAuthenticator = request.app.state.operators
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            raise ProblemError(
                401,
                "unauthorized",
                "An operator credential is required: "
                "Authorization: Bearer <operator key or OIDC token>",
            )
        try:
            operator = await authenticator.operator(presented)
        except InvalidCredential as refused:
            raise ProblemError(401, "unauthorized", f"Operator credential: {refused}") from None
        if not operator.may_act_as(wanted):
            raise ProblemError(
                403,
                "forbidden",
                f"{operator.name} ({', '.join(sorted(operator.roles)) or 'no role'}) may not "
                f"do this; it takes {' or '.join(sorted(wanted))}",
            )
        return operator

    operator_in_role.operator_roles = wanted  # type: ignore[attr-defined]
    operator_in_role.problem_statuses = (401, 403)  # type: ignore[attr-defined]
    return operator_in_role


Administrator = Annotated[Operator, Depends(require_role(Role.ADMIN))]
