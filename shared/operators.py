"""Who calls an operator route, with which roles: per-operator keys and OIDC tokens.

Both are presented as `Authorization: Bearer <credential>`:

- an **operator key** (`ehop_<key id>_<secret>`), issued to one operator with one role by
  `python -m shared.operators create <operator> --role <role>`, shown once. Only its SHA-256
  is kept, with the operator, role and dates, in the credentials file
  (`OPERATOR_CREDENTIALS_FILE`): one file that the four services read, in Kubernetes one
  Secret mounted into each, so no service asks another who an operator is. Each process
  re-reads the file when it changes (looked at every `RELOAD_SECONDS`): a key revoked with
  `python -m shared.operators revoke <key id>` stops working once the file reaches it.
- an **OIDC access token**: a JWT from the identity provider, signed by a key of its JWKS
  (`OIDC_JWKS_URL`, or `OIDC_JWKS_FILE`), for `OIDC_AUDIENCE`, from `OIDC_ISSUER`; the
  operator is its `OIDC_OPERATOR_CLAIM` (`sub`), the roles those of its `OIDC_ROLES_CLAIM`
  (`roles`) that the hub knows. The production option: short-lived, revoked at the provider.

The identity recorded in audits (officers' decisions, scans, dead-letter replays) is the
credential's operator, never what a caller writes in a header.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt

from shared.settings import ServiceSettings

KEY_PREFIX = "ehop_"
RELOAD_SECONDS = 2.0
OPERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,99}$")
# Asymmetric only: an HMAC or `none` token could be minted by anyone holding the JWKS.
TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
TOKEN_LEEWAY_SECONDS = 30


class Role(StrEnum):
    CUSTOMS_OFFICER = "customs-officer"
    HUB_OPERATOR = "hub-operator"
    FINANCE = "finance"
    ADMIN = "admin"


@dataclass(frozen=True)
class Operator:
    """An authenticated operator: `name` is what audits record."""

    name: str
    roles: frozenset[Role]
    credential: str  # "key:<key id>" or "oidc"

    def may_act_as(self, wanted: frozenset[Role]) -> bool:
        """An administrator may do everything; anyone else needs one of the `wanted` roles."""
        return Role.ADMIN in self.roles or bool(self.roles & wanted)


class InvalidCredential(Exception):
    """The credential is unknown, revoked, expired or badly signed."""


# ---- operator keys ---------------------------------------------------------------------


@dataclass(frozen=True)
class OperatorCredential:
    key_id: str
    operator: str
    role: Role
    key_sha256: str
    created_at: str
    revoked_at: str | None = None


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class CredentialsFile:
    """The operators' hashed keys, one JSON document, written whole and atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[OperatorCredential]:
        if not self.path.exists():
            return []
        document = json.loads(self.path.read_text())
        return [
            OperatorCredential(**{**entry, "role": Role(entry["role"])})
            for entry in document["credentials"]
        ]

    def write(self, credentials: list[OperatorCredential]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        document = {"credentials": [asdict(credential) for credential in credentials]}
        descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as out:
            json.dump(document, out, indent=2)
        os.replace(staging, self.path)

    def issue(self, operator: str, role: Role, key: str | None = None) -> str:
        """A new key for `operator` with `role`; returns the key, which is kept nowhere."""
        if not OPERATOR_NAME.match(operator):
            raise ValueError(
                f"operator name {operator!r}: lower-case letters, digits and . _ @ - only, "
                "at most 100 characters"
            )
        key_id = secrets.token_hex(4)
        key = key or f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        credentials = self.read()
        credentials.append(
            OperatorCredential(
                key_id=key_id,
                operator=operator,
                role=Role(role),
                key_sha256=key_digest(key),
                created_at=_now(),
            )
        )
        self.write(credentials)
        return key

    def revoke(self, key_id: str) -> OperatorCredential:
        credentials = self.read()
        for index, credential in enumerate(credentials):
            if credential.key_id == key_id:
                if credential.revoked_at is None:
                    credentials[index] = replace(credential, revoked_at=_now())
                    self.write(credentials)
                return credentials[index]
        raise KeyError(key_id)


class OperatorKeys:
    """Checks operator keys against the credentials file, re-read when it changes."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._file = CredentialsFile(path) if path else None
        self._clock = clock
        self._looked_at = float("-inf")
        self._version: tuple[int, int] | None = None
        self._by_digest: dict[str, OperatorCredential] = {}

    def operator(self, key: str) -> Operator | None:
        self._reload_if_changed()
        credential = self._by_digest.get(key_digest(key))
        if credential is None:
            return None
        return Operator(
            credential.operator, frozenset({credential.role}), f"key:{credential.key_id}"
        )

    def _reload_if_changed(self) -> None:
        now = self._clock()
        if self._file is None or now - self._looked_at < RELOAD_SECONDS:
            return
        self._looked_at = now
        try:
            status = self._file.path.stat()
        except FileNotFoundError:
            self._version, self._by_digest = None, {}
            return
        version = (status.st_mtime_ns, status.st_size)
        if version != self._version:
            self._by_digest = {
                credential.key_sha256: credential
                for credential in self._file.read()
                if credential.revoked_at is None
            }
            self._version = version


# ---- OIDC tokens -----------------------------------------------------------------------


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    jwks_url: str | None = None
    jwks_file: Path | None = None
    operator_claim: str = "sub"
    roles_claim: str = "roles"


class OidcTokens:
    """Validates a JWT's signature against the provider's JWKS, its expiry, issuer, audience."""

    def __init__(self, settings: OidcSettings) -> None:
        if not (settings.jwks_url or settings.jwks_file):
            raise ValueError("OIDC needs a JWKS: set OIDC_JWKS_URL or OIDC_JWKS_FILE")
        self._settings = settings
        # PyJWKClient caches the key set and fetches it again for a key id it does not know.
        self._client = (
            jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300, timeout=5)
            if settings.jwks_url
            else None
        )

    async def operator(self, token: str) -> Operator:
        try:
            signing_key = await self._signing_key(token)
            claims = jwt.decode(
                token,
                signing_key,
                algorithms=TOKEN_ALGORITHMS,
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=TOKEN_LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud", self._settings.operator_claim]},
            )
        except (jwt.PyJWTError, ValueError, OSError) as refused:
            raise InvalidCredential(f"token refused: {refused}") from None
        name = claims[self._settings.operator_claim]
        if not isinstance(name, str) or not 0 < len(name) <= 200:
            raise InvalidCredential(f"token refused: bad {self._settings.operator_claim} claim")
        return Operator(name, _known_roles(claims.get(self._settings.roles_claim)), "oidc")

    async def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            found = await asyncio.to_thread(self._client.get_signing_key_from_jwt, token)
            return found.key
        assert self._settings.jwks_file is not None
        key_set = jwt.PyJWKSet.from_json(self._settings.jwks_file.read_text())
        key_id = jwt.get_unverified_header(token).get("kid")
        for candidate in key_set.keys:
            if candidate.key_id == key_id:
                return candidate.key
        raise InvalidCredential(f"token refused: no key {key_id!r} in the key set")


def _known_roles(claim: object) -> frozenset[Role]:
    names = [claim] if isinstance(claim, str) else claim if isinstance(claim, list) else []
    return frozenset(Role(name) for name in names if name in set(Role))


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2 and not credential.startswith(KEY_PREFIX)


class OperatorAuthenticator:
    """The operator behind a bearer credential: an operator key or, when configured, a JWT."""

    def __init__(self, keys: OperatorKeys, tokens: OidcTokens | None = None) -> None:
        self._keys = keys
        self._tokens = tokens

    async def operator(self, credential: str) -> Operator:
        if self._tokens is not None and looks_like_jwt(credential):
            return await self._tokens.operator(credential)
        operator = self._keys.operator(credential)
        if operator is None:
            raise InvalidCredential("unknown or revoked operator key")
        return operator


def operator_authenticator(settings: ServiceSettings) -> OperatorAuthenticator:
    tokens = None
    if settings.oidc_issuer:
        tokens = OidcTokens(
            OidcSettings(
                issuer=settings.oidc_issuer,
                audience=settings.oidc_audience,
                jwks_url=settings.oidc_jwks_url,
                jwks_file=settings.oidc_jwks_file,
                operator_claim=settings.oidc_operator_claim,
                roles_claim=settings.oidc_roles_claim,
            )
        )
    return OperatorAuthenticator(OperatorKeys(settings.operator_credentials_file), tokens)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ---- command line ----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.operators",
        description="Issue, list and revoke operators' keys in the credentials file.",
    )
    parser.add_argument(
        "--file",
        type=Path,
        default=os.environ.get("OPERATOR_CREDENTIALS_FILE"),
        required="OPERATOR_CREDENTIALS_FILE" not in os.environ,
        help="the credentials file (default: $OPERATOR_CREDENTIALS_FILE)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="issue a key; it is printed once, never stored")
    create.add_argument("operator", help="the name audits record, e.g. officer.janssens")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    commands.add_parser("list", help="every credential: key id, operator, role, dates")
    revoke = commands.add_parser("revoke", help="revoke a key by its key id")
    revoke.add_argument("key_id")
    arguments = parser.parse_args(argv)
    store = CredentialsFile(arguments.file)
    if arguments.command == "create":
        try:
            print(store.issue(arguments.operator, Role(arguments.role)))
        except ValueError as refused:
            parser.error(str(refused))
    elif arguments.command == "list":
        for credential in store.read():
            state = f"revoked {credential.revoked_at}" if credential.revoked_at else "active"
            print(
                f"{credential.key_id}  {credential.operator:<30} {credential.role.value:<16} "
                f"created {credential.created_at}  {state}"
            )
    else:
        try:
            revoked = store.revoke(arguments.key_id)
        except KeyError:
            parser.error(f"no credential with key id {arguments.key_id}")
        print(f"revoked {revoked.key_id} ({revoked.operator}) at {revoked.revoked_at}")


if __name__ == "__main__":
    main()
