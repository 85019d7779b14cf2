"""Run a service in one process on two listeners: the partner API and the operator API.

    python -m shared.serve services.orders.main:app [--host H] [--port P] [--admin-port A]

The app `create_service_app` returns is the partner-facing one; the operator/admin app
(operator routes, dead letters, /metrics) hangs off it and shares its runtime: one
database pool, one relay, one consumer. Both listeners answer /healthz and /readyz. The
ports default to the settings' `http_port` and `admin_port`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI
from uvicorn.importer import import_from_string

from shared.service import admin_app_of, settings_of


class Listener(uvicorn.Server):
    """A uvicorn server that leaves signals to `serve`.

    Each uvicorn server installs its own SIGTERM/SIGINT handlers (the second would take them
    from the first) and raises the signal again once it has drained, which would end the
    process while the other listener still serves. `serve` stops both instead.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop(listeners: list[Listener]) -> None:
    for listener in listeners:
        if listener.should_exit:
            listener.force_exit = True  # a second signal: stop waiting for open connections
        listener.should_exit = True


async def serve(
    app: FastAPI,
    *,
    host: str,
    port: int,
    admin_port: int,
    timeout_keep_alive: int = 5,
    timeout_graceful_shutdown: int = 10,
) -> None:
    """Serve `app` on `port` and its operator app on `admin_port` until SIGTERM or SIGINT.

    The runtime (migrations, pool, relay, consumer) starts before either listener binds and
    stops after both have drained, so no request of either sees it half torn down.
    """
    listeners = [
        Listener(
            uvicorn.Config(
                served,
                host=host,
                port=bound_port,
                lifespan="off",
                access_log=False,
                timeout_keep_alive=timeout_keep_alive,
                timeout_graceful_shutdown=timeout_graceful_shutdown,
            )
        )
        for served, bound_port in ((app, port), (admin_app_of(app), admin_port))
    ]
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, _stop, listeners)
    async with app.router.lifespan_context(app):
        _tune_garbage_collection()
        await asyncio.gather(*(listener.serve() for listener in listeners))


# Container objects allocated (net of those freed) between two young collections; Python's
# default of 700 ran one every few requests, each also promoting a batch's live rows and
# models towards the older generations, whose collections hold the loop longest.
YOUNG_COLLECTION_THRESHOLD = 10_000


def _tune_garbage_collection() -> None:
    """Leave what start-up built (modules, metadata, schemas, caches) out of every later
    collection, and collect the young generation less often: under load a full collection
    walked all of it, holding the event loop and every request behind it for a quarter of a
    second, and collections took 5 % of the process's CPU."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def main() -> None:
    parser = argparse.ArgumentParser(prog="shared.serve", description=__doc__)
    parser.add_argument("app", help="module:attribute of the service app")
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, help="partner API (default: settings.http_port)")
    parser.add_argument(
        "--admin-port", type=int, help="operator API and /metrics (default: settings.admin_port)"
    )
    parser.add_argument(
        "--timeout-keep-alive",
        type=int,
        default=int(os.environ.get("UVICORN_TIMEOUT_KEEP_ALIVE", "5")),
        help="seconds an idle connection stays open (env UVICORN_TIMEOUT_KEEP_ALIVE)",
    )
    parser.add_argument("--timeout-graceful-shutdown", type=int, default=10)
    arguments = parser.parse_args()
    app = import_from_string(arguments.app)
    settings = settings_of(app)
    asyncio.run(
        serve(
            app,
            host=arguments.host,
            port=arguments.port or settings.http_port,
            admin_port=arguments.admin_port or settings.admin_port,
            timeout_keep_alive=arguments.timeout_keep_alive,
            timeout_graceful_shutdown=arguments.timeout_graceful_shutdown,
        )
    )


if __name__ == "__main__":
    main()
