"""The hub operations console: `uvicorn services.console.main:app --port 8005`.

Server-rendered pages for hub operators, customs officers and SREs. It owns no database: it
reads and acts through the four services' operator APIs with the signed-in operator's own
credential, which a signed, HTTP-only, same-site cookie keeps for one shift.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from services.console.backends import SERVICES, BackendError, Backends
from services.console.settings import ConsoleSettings
from shared.logging import configure_logging

HERE = Path(__file__).parent
settings = ConsoleSettings()
templates = Jinja2Templates(directory=HERE / "templates")


class SignInRequired(Exception):
    pass


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    configure_logging("console", settings.log_level)
    app.state.backends = Backends(settings)
    yield
    await app.state.backends.close()


app = FastAPI(
    title="Liège eHub — Operations console",
    lifespan=lifespan,
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)
app.add_middleware(
    SessionMiddleware,
    secret_key=settings.session_secret,
    session_cookie="ehub_console",
    max_age=settings.session_hours * 3600,
    same_site="strict",
    https_only=settings.secure_cookie,
)
app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


@app.exception_handler(SignInRequired)
async def _to_sign_in(request: Request, _: SignInRequired) -> Response:
    return RedirectResponse(f"/sign-in?next={quote(request.url.path)}", status_code=303)


def _backends(request: Request) -> Backends:
    return request.app.state.backends


def _operator(request: Request) -> dict[str, Any]:
    operator = request.session.get("operator")
    if not operator:
        raise SignInRequired
    return operator


def _page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(
        request,
        template,
        {"operator": request.session.get("operator"), "trace_ui": settings.trace_ui_url, **context},
        status_code=status_code,
    )


async def _panel(call) -> dict[str, Any]:
    """One service's part of a page: its data, or what it said instead."""
    try:
        return {"data": await call}
    except BackendError as error:
        return {"error": error}


@app.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, next: str = "/") -> Response:
    return _page(request, "sign_in.html", next=next if next.startswith("/") else "/")


@app.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request, key: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    try:
        me = await _backends(request).get("orders", "/v1/operators/me", key.strip())
    except BackendError as error:
        message = (
            "That key is not a valid operator key."
            if error.status == 401
            else f"Sign-in is unavailable: {error.detail}"
        )
        return _page(request, "sign_in.html", 401, next=next, error=message)
    request.session["operator"] = {"key": key.strip(), "name": me["name"], "roles": me["roles"]}
    return RedirectResponse(next if next.startswith("/") else "/", status_code=303)


@app.post("/sign-out")
async def sign_out(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/sign-in", status_code=303)


@app.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    operator = _operator(request)
    backends = _backends(request)
    key = operator["key"]
    held, stuck = await asyncio.gather(
        _panel(backends.get("customs", "/v1/declarations", key, {"status": "HELD", "limit": 100})),
        _panel(backends.get("orders", "/v1/orders/stuck", key)),
    )
    return _page(request, "home.html", held=held, stuck=stuck)


@app.get("/orders", response_class=HTMLResponse)
async def find_order(request: Request, q: str = "") -> Response:
    operator = _operator(request)
    wanted = q.strip()
    if not wanted:
        return RedirectResponse("/", status_code=303)
    try:
        return RedirectResponse(f"/orders/{uuid.UUID(wanted)}", status_code=303)
    except ValueError:
        pass
    found = await _panel(
        _backends(request).get(
            "orders", "/v1/orders", operator["key"], {"partner_reference": wanted}
        )
    )
    items = found.get("data", {}).get("items", [])
    if len(items) == 1:
        return RedirectResponse(f"/orders/{items[0]['id']}", status_code=303)
    return _page(request, "search.html", query=wanted, found=found, items=items)


@app.get("/orders/{order_id}", response_class=HTMLResponse)
async def order_page(request: Request, order_id: uuid.UUID) -> Response:
    operator = _operator(request)
    backends = _backends(request)
    key = operator["key"]
    order, payments, declaration, shipments, trace_id = await asyncio.gather(
        _panel(backends.get("orders", f"/v1/orders/{order_id}", key)),
        _panel(backends.get("payments", "/v1/payments", key, {"order_id": str(order_id)})),
        _panel(backends.get("customs", f"/v1/declarations/{order_id}", key)),
        _panel(backends.get("fulfillment", "/v1/shipments", key, {"order_id": str(order_id)})),
        backends.trace_id(str(order_id)),
    )
    shipment: dict[str, Any] = {}
    if shipments.get("data"):
        shipment = await _panel(
            backends.get("fulfillment", f"/v1/shipments/{shipments['data'][0]['id']}", key)
        )
    not_found = "error" in order and order["error"].status == 404
    return _page(
        request,
        "order.html",
        404 if not_found else 200,
        order_id=order_id,
        order=order,
        payments=payments,
        declaration=declaration,
        shipments=shipments,
        shipment=shipment,
        trace_id=trace_id,
        trace_search=f"{settings.trace_ui_url}/?annotationQuery="
        + quote(f"ehub.order_id={order_id}"),
    )


@app.get("/customs/held", response_class=HTMLResponse)
async def held_queue(request: Request) -> Response:
    operator = _operator(request)
    held = await _panel(
        _backends(request).get(
            "customs", "/v1/declarations", operator["key"], {"status": "HELD", "limit": 100}
        )
    )
    return _page(request, "held.html", held=held)


@app.get("/customs/{order_id}", response_class=HTMLResponse)
async def declaration_page(request: Request, order_id: uuid.UUID, done: str = "") -> Response:
    operator = _operator(request)
    declaration = await _panel(
        _backends(request).get("customs", f"/v1/declarations/{order_id}", operator["key"])
    )
    return _page(request, "declaration.html", order_id=order_id, declaration=declaration, done=done)


@app.post("/customs/{order_id}/{decision}", response_class=HTMLResponse)
async def decide(
    request: Request,
    order_id: uuid.UUID,
    decision: str,
    reason: Annotated[str, Form()],
    duty: Annotated[str, Form()] = "",
    vat: Annotated[str, Form()] = "",
) -> Response:
    operator = _operator(request)
    if decision not in ("release", "reject"):
        return _page(request, "message.html", 404, message=f"No such decision: {decision}")
    body: dict[str, Any] = {"reason": reason.strip()}
    if decision == "release":
        body |= {name: value.strip() for name, value in (("duty", duty), ("vat", vat)) if value}
    try:
        await _backends(request).post(
            "customs", f"/v1/declarations/{order_id}/{decision}", operator["key"], body
        )
    except BackendError as error:
        declaration = await _panel(
            _backends(request).get("customs", f"/v1/declarations/{order_id}", operator["key"])
        )
        return _page(
            request,
            "declaration.html",
            error.status if error.status < 500 else 502,
            order_id=order_id,
            declaration=declaration,
            refused=error,
        )
    done = "released" if decision == "release" else "rejected"
    return RedirectResponse(f"/customs/{order_id}?done={done}", status_code=303)


@app.get("/dead-letters", response_class=HTMLResponse)
async def dead_letters(request: Request, replayed: str = "") -> Response:
    operator = _operator(request)
    backends = _backends(request)
    panels = await asyncio.gather(
        *(
            _panel(backends.get(service, "/v1/admin/dead-letters", operator["key"]))
            for service in SERVICES
        )
    )
    return _page(
        request,
        "dead_letters.html",
        letters=dict(zip(SERVICES, panels, strict=True)),
        replayed=replayed,
    )


@app.post("/dead-letters/{service}/replay", response_class=HTMLResponse)
async def replay_letter(
    request: Request, service: str, letter_id: Annotated[str, Form()]
) -> Response:
    operator = _operator(request)
    if service not in SERVICES:
        return _page(request, "message.html", 404, message=f"No service {service}")
    try:
        await _backends(request).post(
            service, "/v1/admin/dead-letters/replay", operator["key"], {"ids": [letter_id]}
        )
    except BackendError as error:
        return _page(request, "message.html", 409, message=f"Not replayed: {error.detail}")
    return RedirectResponse(f"/dead-letters?replayed={quote(letter_id)}", status_code=303)


@app.get("/stuck", response_class=HTMLResponse)
async def stuck(request: Request, older_than_minutes: str = "") -> Response:
    operator = _operator(request)
    # The form sends an empty field for "each status's own objective".
    chosen = {"older_than_minutes": older_than_minutes} if older_than_minutes.strip() else None
    orders = await _panel(
        _backends(request).get("orders", "/v1/orders/stuck", operator["key"], chosen)
    )
    return _page(request, "stuck.html", orders=orders, minutes=older_than_minutes)


@app.get("/departures", response_class=HTMLResponse)
async def departures(request: Request) -> Response:
    operator = _operator(request)
    found = await _panel(_backends(request).get("fulfillment", "/v1/departures", operator["key"]))
    return _page(request, "departures.html", departures=found)
