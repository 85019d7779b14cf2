"""A local stack (tests, make up) delivers webhooks to this machine only and looks up no
public name: Schemathesis and careless partners register whatever URLs they like."""

from __future__ import annotations

import httpx
import pytest

from services.orders.webhooks import pinned_address

LOOKED_UP: list[str] = []


def answering(*addresses: str):
    async def resolve(host: str, port: int) -> list[str]:
        LOOKED_UP.append(host)
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    "url", ["http://partner.example.com/hooks", "https://93.184.216.34/hooks", "http://10.0.0.7/"]
)
async def test_a_public_or_private_target_is_refused_before_any_lookup(url):
    LOOKED_UP.clear()
    address, refusal = await pinned_address(httpx.URL(url), True, answering("127.0.0.1"))
    assert address is None and "not a loopback address" in refusal
    assert LOOKED_UP == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "http://localhost/hooks"])
async def test_loopback_is_delivered_to(url):
    assert await pinned_address(httpx.URL(url), True, answering("127.0.0.1")) == (
        "127.0.0.1",
        None,
    )


async def test_a_reserved_name_that_resolves_beyond_loopback_is_refused():
    address, refusal = await pinned_address(
        httpx.URL("http://hooks.partner.test/"), True, answering("127.0.0.1", "93.184.216.34")
    )
    assert address is None
    assert refusal == "hooks.partner.test resolves beyond loopback (93.184.216.34)"
