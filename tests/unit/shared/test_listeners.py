"""The partner app of every service routes no operator path; the admin app routes them all."""

from __future__ import annotations

import importlib

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shared.service import admin_app_of

SERVICES = ["orders", "payments", "customs", "fulfillment"]
BOTH_LISTENERS = {"/healthz", "/readyz"}
OPERATOR_PATHS = {
    "/metrics",
    "/v1/admin/dead-letters",
    "/v1/admin/dead-letters/replay",
}


def app_of(service: str) -> FastAPI:
    return importlib.import_module(f"services.{service}.main").app


def api_routes(routes) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (which FastAPI keeps as branches)."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif included := getattr(route, "original_router", None):
            found += api_routes(included.routes)
    return found


def paths(app: FastAPI) -> set[str]:
    return {route.path for route in api_routes(app.routes)}


def checks_a_role(dependant: Dependant) -> bool:
    """The route, or one of its dependencies, is guarded by `shared.service.require_role`."""
    return hasattr(dependant.call, "operator_roles") or any(
        checks_a_role(sub) for sub in dependant.dependencies
    )


def operator_routes(app: FastAPI) -> set[str]:
    return {route.path for route in api_routes(app.routes) if checks_a_role(route.dependant)}


@pytest.mark.parametrize("service", SERVICES)
def test_the_partner_app_routes_no_operator_path(service):
    partner = app_of(service)
    assert operator_routes(partner) == set()
    assert not paths(partner) & OPERATOR_PATHS
    assert paths(partner) >= BOTH_LISTENERS


@pytest.mark.parametrize("service", SERVICES)
def test_the_admin_app_routes_dead_letters_metrics_and_health(service):
    admin = admin_app_of(app_of(service))
    assert paths(admin) >= OPERATOR_PATHS | BOTH_LISTENERS


@pytest.mark.parametrize(
    ("service", "operator_path"),
    [
        ("customs", "/v1/declarations/{key}/release"),
        ("customs", "/v1/declarations/{key}/reject"),
        ("payments", "/v1/payments/{payment_id}/refunds"),
        ("fulfillment", "/v1/shipments/{shipment_id}/scans"),
    ],
)
def test_operator_routes_are_on_the_admin_app_only(service, operator_path):
    assert operator_path in operator_routes(admin_app_of(app_of(service)))
    assert operator_path not in paths(app_of(service))


@pytest.mark.parametrize("service", SERVICES)
def test_every_operator_route_checks_a_role(service):
    admin = admin_app_of(app_of(service))
    assert paths(admin) - operator_routes(admin) <= BOTH_LISTENERS | {
        "/metrics",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
    }
