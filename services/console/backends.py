"""The four services' operator APIs and the trace backend, as the console calls them.

Every call carries the signed-in operator's own credential, so each service checks their
role and records them, never the console, as the one who acted.
"""

from __future__ import annotations

from typing import Any

import httpx

from services.console.settings import ConsoleSettings

SERVICES = ("orders", "payments", "customs", "fulfillment")


class BackendError(Exception):
    """A service refused or failed a call; `detail` is its problem document's own words."""

    def __init__(self, service: str, status: int, title: str, detail: str) -> None:
        super().__init__(f"{service}: {status} {title}: {detail}")
        self.service = service
        self.status = status
        self.title = title
        self.detail = detail

    @property
    def forbidden(self) -> bool:
        return self.status == 403


class Backends:
    def __init__(self, settings: ConsoleSettings) -> None:
        self._settings = settings
        self._client = httpx.AsyncClient(
            timeout=settings.request_timeout_seconds, follow_redirects=False
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def get(
        self, service: str, path: str, credential: str, params: dict[str, Any] | None = None
    ) -> Any:
        return await self._call("GET", service, path, credential, params=params)

    async def post(self, service: str, path: str, credential: str, body: dict[str, Any]) -> Any:
        return await self._call("POST", service, path, credential, json=body)

    async def _call(
        self, method: str, service: str, path: str, credential: str, **request: Any
    ) -> Any:
        url = self._settings.service_url(service) + path
        try:
            response = await self._client.request(
                method, url, headers={"Authorization": f"Bearer {credential}"}, **request
            )
        except httpx.HTTPError as error:
            raise BackendError(service, 503, "unreachable", f"{type(error).__name__}") from None
        if response.is_success:
            return response.json()
        raise _problem(service, response)

    async def trace_id(self, order_id: str) -> str | None:
        """The id of the order's trace in the trace backend, if it has one."""
        api = self._settings.trace_ui_url.removesuffix("/zipkin") + "/api/v2/traces"
        try:
            response = await self._client.get(
                api, params={"annotationQuery": f"ehub.order_id={order_id}", "limit": 1}
            )
            traces = response.json() if response.is_success else []
        except (httpx.HTTPError, ValueError):
            return None
        return traces[0][0]["traceId"] if traces and traces[0] else None


def _problem(service: str, response: httpx.Response) -> BackendError:
    try:
        problem = response.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    detail = str(problem.get("detail") or response.reason_phrase)
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        detail += (
            " ("
            + "; ".join(
                f"{error.get('pointer', '')} {error.get('detail', '')}".strip()
                for error in errors
                if isinstance(error, dict)
            )
            + ")"
        )
    return BackendError(service, response.status_code, str(problem.get("title", "")), detail)
