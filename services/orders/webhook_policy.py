"""The rules of webhook delivery, without I/O: which addresses a delivery may reach, how
it is signed, when it is retried, when an endpoint that keeps failing is switched off.

Addresses: a partner's host must resolve only to public unicast addresses, and an IPv6
address that embeds an IPv4 one (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) is
judged by the IPv4 address it carries, so `64:ff9b::7f00:1` is loopback, not "global".
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from standardwebhooks import Webhook

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges never reachable as a partner's server, whatever `is_global` says of them
# (Python 3.11 calls several of them global). From the IANA special-purpose registry.
_REFUSED_IPV6 = tuple(
    ipaddress.IPv6Network(network)
    for network in (
        "::/96",  # unspecified, loopback, IPv4-compatible (deprecated)
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard-only
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # SRv6 segment identifiers
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local (deprecated)
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_REFUSED_IPV4 = (ipaddress.IPv4Network("192.88.99.0/24"),)  # 6to4 relay anycast


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for, by the transition schemes that
    route it to them."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address in _NAT64:
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    return []


def refusal(address: str) -> str | None:
    """Why a webhook must not be sent to `address`, or None if it is a public unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded:
            refused = [reason for v4 in embedded if (reason := _ipv4_refusal(v4))]
            return f"{ip} maps to {refused[0]}" if refused else None
        if any(ip in network for network in _REFUSED_IPV6):
            return f"{ip} is a special-purpose IPv6 address"
        if not ip.is_global or ip.is_reserved:
            return f"{ip} is not a public IPv6 address"
        return None
    return _ipv4_refusal(ip)


def _ipv4_refusal(ip: ipaddress.IPv4Address) -> str | None:
    if ip.is_multicast or ip.is_reserved or any(ip in network for network in _REFUSED_IPV4):
        return f"{ip} is not a unicast address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def target_refusal(host: str, addresses: Iterable[str]) -> str | None:
    """Why `host`, resolved to `addresses`, must not be called: every address must be
    public, or a second resolution could pick the private one."""
    addresses = list(addresses)
    if not addresses:
        return f"{host} resolves to no address"
    refused = sorted({reason for address in addresses if (reason := refusal(address))})
    return f"{host} resolves to a non-public address: {'; '.join(refused)}" if refused else None


def signature_header(
    secrets: Iterable[str], message_id: str, timestamp: datetime, body: bytes
) -> str:
    """`webhook-signature`: one `v1,<signature>` per secret in force, space-separated, as
    Standard Webhooks verifiers expect while a secret is being rotated."""
    text = body.decode()
    return " ".join(Webhook(secret).sign(message_id, timestamp, text) for secret in secrets)


def secrets_in_force(
    secret: str, previous: str | None, previous_until: datetime | None, now: datetime
) -> list[str]:
    """The secrets that sign a delivery now: the current one, and the one it replaced
    until the rotation's overlap ends."""
    if previous is not None and previous_until is not None and now < previous_until:
        return [secret, previous]
    return [secret]


def retry_delay(attempts: int, first_retry: timedelta) -> timedelta:
    return first_retry * (2 ** (attempts - 1))


def should_disable(failing_since: datetime | None, now: datetime, disable_after: timedelta) -> bool:
    """An endpoint that has answered nothing but failures for `disable_after` is switched off."""
    return failing_since is not None and now - failing_since >= disable_after


def disabled_notice(url: str, failing_since: datetime, now: datetime) -> str:
    return (
        f"Webhook endpoint {url} was disabled at {now.astimezone(UTC).isoformat()}: every "
        f"delivery since {failing_since.astimezone(UTC).isoformat()} failed. Deliveries wait "
        "for it; POST /v1/webhook/enable sends them once the endpoint answers again."
    )
