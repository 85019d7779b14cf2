"""Operator credentials: hashed keys with one role, revocation, OIDC tokens against a JWKS."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from shared.operators import (
    RELOAD_SECONDS,
    CredentialsFile,
    InvalidCredential,
    OidcSettings,
    OidcTokens,
    Operator,
    OperatorAuthenticator,
    OperatorKeys,
    Role,
    main,
)

ISSUER = "https://idp.unit.invalid/realms/hub"
AUDIENCE = "liege-ehub-operators"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_is_stored_hashed_and_names_its_operator_and_role(tmp_path: Path):
    store = CredentialsFile(tmp_path / "operators.json")
    key = store.issue("officer.janssens", Role.CUSTOMS_OFFICER)

    assert key not in (tmp_path / "operators.json").read_text()
    [credential] = store.read()
    assert (credential.operator, credential.role, credential.revoked_at) == (
        "officer.janssens",
        Role.CUSTOMS_OFFICER,
        None,
    )
    operator = OperatorKeys(tmp_path / "operators.json").operator(key)
    assert operator == Operator(
        "officer.janssens", frozenset({Role.CUSTOMS_OFFICER}), f"key:{credential.key_id}"
    )
    assert OperatorKeys(tmp_path / "operators.json").operator(key + "x") is None


def test_a_revoked_key_stops_working_once_the_file_is_read_again(tmp_path: Path):
    path = tmp_path / "operators.json"
    store = CredentialsFile(path)
    key = store.issue("agent.dubois", Role.HUB_OPERATOR)
    clock = Clock()
    keys = OperatorKeys(path, clock=clock)
    assert keys.operator(key) is not None

    store.revoke(store.read()[0].key_id)
    clock.now += RELOAD_SECONDS
    assert keys.operator(key) is None
    assert store.read()[0].revoked_at is not None


def test_operator_names_are_refused_when_not_plain(tmp_path: Path):
    store = CredentialsFile(tmp_path / "operators.json")
    for name in ("", "Officer Janssens", "x" * 101, "officer\x00"):
        with pytest.raises(ValueError, match="operator name"):
            store.issue(name, Role.FINANCE)
    assert store.read() == []


def test_an_administrator_may_act_in_every_role_others_in_their_own():
    admin = Operator("root", frozenset({Role.ADMIN}), "key:1")
    officer = Operator("officer.janssens", frozenset({Role.CUSTOMS_OFFICER}), "key:2")
    assert admin.may_act_as(frozenset({Role.FINANCE}))
    assert officer.may_act_as(frozenset({Role.CUSTOMS_OFFICER}))
    assert not officer.may_act_as(frozenset({Role.HUB_OPERATOR, Role.FINANCE}))


def test_the_command_line_creates_lists_and_revokes(tmp_path: Path, capsys):
    path = tmp_path / "operators.json"
    main(["--file", str(path), "create", "finance.maes", "--role", "finance"])
    key = capsys.readouterr().out.strip()
    assert key.startswith("ehop_")

    main(["--file", str(path), "list"])
    listed = capsys.readouterr().out
    assert "finance.maes" in listed and "finance" in listed and "active" in listed
    assert key not in listed

    key_id = CredentialsFile(path).read()[0].key_id
    main(["--file", str(path), "revoke", key_id])
    assert f"revoked {key_id} (finance.maes)" in capsys.readouterr().out
    main(["--file", str(path), "list"])
    assert "revoked 20" in capsys.readouterr().out
    assert OperatorKeys(path).operator(key) is None


# ---- OIDC ------------------------------------------------------------------------------


class IdentityProvider:
    """A key set generated for the test, and tokens signed with it."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = "unit-key-1"

    def jwks(self) -> str:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return json.dumps({"keys": [public | {"kid": self.key_id, "use": "sig"}]})

    def token(self, key=None, algorithm: str = "RS256", **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "officer.peeters",
            "roles": ["customs-officer"],
            "iat": now,
            "exp": now + 300,
        } | claims
        return jwt.encode(
            payload, key or self.key, algorithm=algorithm, headers={"kid": self.key_id}
        )


@pytest.fixture
def provider() -> IdentityProvider:
    return IdentityProvider()


@pytest.fixture
def tokens(provider: IdentityProvider, tmp_path: Path) -> OidcTokens:
    jwks = tmp_path / "jwks.json"
    jwks.write_text(provider.jwks())
    return OidcTokens(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_file=jwks))


def test_a_valid_token_names_the_operator_and_the_roles_it_carries(provider, tokens):
    token = provider.token(roles=["customs-officer", "finance", "pilot"])
    operator = asyncio.run(tokens.operator(token))
    assert operator == Operator(
        "officer.peeters", frozenset({Role.CUSTOMS_OFFICER, Role.FINANCE}), "oidc"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": int(time.time()) - 120},
        {"aud": "someone-else"},
        {"iss": "https://evil.invalid"},
        {"sub": None},
    ],
    ids=["expired", "audience", "issuer", "no-subject"],
)
def test_a_token_that_is_not_for_the_hub_is_refused(provider, tokens, claims):
    token = provider.token(**claims)
    with pytest.raises(InvalidCredential):
        asyncio.run(tokens.operator(token))


def test_a_token_signed_by_another_key_is_refused(provider, tokens):
    forged = provider.token(key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
    with pytest.raises(InvalidCredential, match="Signature"):
        asyncio.run(tokens.operator(forged))


def test_a_token_signed_with_a_shared_secret_is_refused(provider, tokens):
    """Whoever has the (public) key set must not be able to mint an HMAC token from it."""
    public_pem = provider.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": provider.key_id}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60}
    signed = ".".join(segment(json.dumps(part).encode()) for part in (header, claims))
    forged = f"{signed}.{segment(hmac.digest(public_pem, signed.encode(), 'sha256'))}"
    with pytest.raises(InvalidCredential, match="alg"):
        asyncio.run(tokens.operator(forged))


def segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_of_an_unknown_key_id_is_refused(provider, tokens):
    other = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        other,
        algorithm="ES256",
        headers={"kid": "not-in-the-set"},
    )
    with pytest.raises(InvalidCredential, match="not-in-the-set"):
        asyncio.run(tokens.operator(token))


@pytest.fixture
def jwks_server(provider: IdentityProvider) -> Iterator[str]:
    """The provider's JWKS served over HTTP on loopback, as an issuer publishes it."""
    body = provider.jwks().encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/realms/hub/certs"
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_is_checked_against_a_jwks_url(provider, jwks_server):
    tokens = OidcTokens(OidcSettings(issuer=ISSUER, audience=AUDIENCE, jwks_url=jwks_server))
    token = provider.token(sub="agent.dubois", roles="hub-operator")
    operator = asyncio.run(tokens.operator(token))
    assert operator.name == "agent.dubois"
    assert operator.roles == frozenset({Role.HUB_OPERATOR})
    with pytest.raises(InvalidCredential):
        asyncio.run(tokens.operator(provider.token(exp=int(time.time()) - 120)))


def test_the_authenticator_takes_keys_and_tokens(provider, tokens, tmp_path: Path):
    path = tmp_path / "operators.json"
    key = CredentialsFile(path).issue("finance.maes", Role.FINANCE)
    authenticator = OperatorAuthenticator(OperatorKeys(path), tokens)
    assert asyncio.run(authenticator.operator(key)).name == "finance.maes"
    assert asyncio.run(authenticator.operator(provider.token())).name == "officer.peeters"
    with pytest.raises(InvalidCredential):
        asyncio.run(authenticator.operator("ehop_unknown_key"))
    without_oidc = OperatorAuthenticator(OperatorKeys(path))
    with pytest.raises(InvalidCredential):
        asyncio.run(without_oidc.operator(provider.token()))
