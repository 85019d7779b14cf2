"""A webhook goes to the address that was checked, with the partner's host in Host and TLS
SNI, and follows no redirect. Loopback receivers; the resolver is the test's, standing in
for a DNS answer that could change between the check and the connection."""

from __future__ import annotations

import datetime as dt
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.orders.webhooks import pinned_address, send

pytestmark = pytest.mark.integration

HOST = "hooks.partner.test"  # resolves nowhere but through the test's resolver


class Receiver:
    def __init__(self, status: int = 204, tls: ssl.SSLContext | None = None) -> None:
        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                self.rfile.read(int(self.headers["content-length"]))
                receiver.hosts.append(self.headers["host"])
                self.send_response(status)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.sni.append(name)
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_port
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.close()


def resolver_of(*addresses: str):
    calls: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_the_connection_goes_to_the_checked_address_with_the_partners_host(receiver):
    url = httpx.URL(f"http://{HOST}:{receiver.port}/hooks")
    resolve = resolver_of("127.0.0.1")

    address, refusal = await pinned_address(url, local_targets=True, resolver=resolve)
    async with httpx.AsyncClient(trust_env=False) as client:
        outcome = await send(client, url, address, b"{}", {"content-type": "application/json"})

    assert (address, refusal) == ("127.0.0.1", None)
    assert resolve.calls == [HOST], "resolved once, by the check"
    assert (outcome.status_code, outcome.error) == (204, None)
    assert receiver.hosts == [f"{HOST}:{receiver.port}"]


async def test_redirects_are_a_failed_attempt_never_followed():
    receiver = Receiver(status=302)
    try:
        url = httpx.URL(f"http://127.0.0.1:{receiver.port}/hooks")
        async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
            outcome = await send(client, url, "127.0.0.1", b"{}", {})
    finally:
        receiver.close()

    assert (outcome.status_code, outcome.error) == (302, "HTTP 302")
    assert len(receiver.hosts) == 1


@pytest.mark.parametrize(
    "answer",
    [
        ("127.0.0.1",),
        ("64:ff9b::7f00:1",),
        ("2002:7f00:1::",),
        ("::ffff:169.254.169.254",),
        ("8.8.8.8", "10.0.0.1"),
    ],
)
async def test_a_host_resolving_to_any_non_public_address_is_never_called(answer):
    url = httpx.URL(f"https://{HOST}/hooks")

    address, refusal = await pinned_address(url, local_targets=False, resolver=resolver_of(*answer))

    assert address is None
    assert refusal is not None and HOST in refusal


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for HOST only (no IP address in it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


async def test_tls_to_the_pinned_address_names_and_verifies_the_partners_host(tmp_path):
    cert_file, key_file = _certificate(tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert_file, key_file)
    receiver = Receiver(tls=server_tls)
    try:
        trusting = ssl.create_default_context(cafile=str(cert_file))
        url = httpx.URL(f"https://{HOST}:{receiver.port}/hooks")
        async with httpx.AsyncClient(trust_env=False, verify=trusting) as client:
            outcome = await send(client, url, "127.0.0.1", b"{}", {})
            # The certificate names HOST, not the address: checked against the address, it fails.
            by_address = await send(
                client, httpx.URL(f"https://127.0.0.1:{receiver.port}/hooks"), "127.0.0.1", b"", {}
            )
    finally:
        receiver.close()

    assert (outcome.status_code, outcome.error) == (204, None)
    assert receiver.sni[0] == HOST
    assert receiver.hosts[0] == f"{HOST}:{receiver.port}"
    assert by_address.status_code is None and "certificate" in by_address.error.lower()
