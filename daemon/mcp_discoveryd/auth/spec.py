"""One upstream's OAuth client, as configured: frozen values, secrets held as ``Secret``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..secret import Secret

DEFAULT_EXPIRY_BUFFER = 300.0  # seconds before expires_in a token stops being used (Enkrypt's)

MIN_KEY_CHARS = 32  # the secret a shared store's AES key is derived from (auth/store.py)

ClientAuth = Literal["basic", "post"]  # client_secret_basic | client_secret_post
Grant = Literal["client_credentials", "authorization_code"]  # the latter: a person logs in once


@dataclass(frozen=True, slots=True)
class OAuthSpec:
    """A client credentials client of one remote upstream."""

    client_id: str
    client_secret: Secret | None = None
    grant: Grant = "client_credentials"
    token_url: str | None = None  # None: found by MCP authorization discovery
    scope: str | None = None
    audience: str | None = None
    resource: str | None = None  # RFC 8707; None: the server's URL once discovery names it
    client_auth: ClientAuth = "basic"
    extra_params: tuple[tuple[str, str], ...] = ()  # added to the token request's form
    headers: Mapping[str, Secret] = field(default_factory=dict)  # on the token request only
    client_cert: str | None = None  # mTLS: PEM certificate (chain)
    client_key: str | None = None  # mTLS: PEM key (None: in client_cert)
    ca_bundle: str | None = None  # verifies the authorization server (None: the system's)
    enforce_https: bool = True  # refuse a token endpoint over plain HTTP (loopback aside)
    expiry_buffer: float = DEFAULT_EXPIRY_BUFFER
    authorization_url: str | None = None  # authorization_code: None means found by discovery

    def secrets(self) -> tuple[Secret, ...]:
        """What text about this client is scrubbed of."""
        own = () if self.client_secret is None else (self.client_secret,)
        return (*own, *self.headers.values())

    def identity(self, server_url: str) -> str:
        """The token cache's key of (server, client): every field that shapes the token.

        The secret's digest is in it, so a rotated secret never reuses a token
        got with the old one; the key itself is hashed again before it names anything.
        """
        secret = "" if self.client_secret is None else self.client_secret.reveal()
        parts = (
            server_url,
            self.client_id,
            self.token_url or "",
            self.scope or "",
            self.audience or "",
            self.resource or "",
            repr(self.extra_params),
            hashlib.sha256(secret.encode()).hexdigest(),
        )
        return "\x00".join(parts)
