"""Tokens shared through Redis: AES-GCM encrypted, under a hashed key name.

Each daemon keeps its tokens in memory (``tokens.py``); with a shared store a
token one host got is used by the others, and a refresh made by one is seen
by all. A value is ``nonce (12 bytes) || AES-256-GCM(token JSON)``, the key
name bound in as associated data, so a value moved to another key does not
decrypt. The AES key is derived (HKDF-SHA256) from a secret read from the
environment or a file; only hosts holding it can read the tokens.
"""

from __future__ import annotations

import json
import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..cache.keys import KeySpace
from ..cache.redis import RedisConnection
from ..secret import Secret
from .grant import Token
from .spec import MIN_KEY_CHARS

NONCE_BYTES = 12


class SharedTokens(Protocol):
    """Where hosts share tokens; errors are the store's (CacheUnavailableError)."""

    async def get(self, identity: str) -> Token | None: ...

    async def put(self, identity: str, token: Token, ttl_s: float) -> None: ...

    async def delete(self, identity: str) -> None: ...


def token_cipher(secret: Secret) -> AESGCM:
    """The AES-256-GCM cipher of a token key secret (at least 32 characters)."""
    raw = secret.reveal().encode()
    if len(raw) < MIN_KEY_CHARS:
        raise ValueError(f"the token encryption key needs at least {MIN_KEY_CHARS} characters")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mcpd oauth tokens v1")
    return AESGCM(hkdf.derive(raw))


def seal(cipher: AESGCM, key_name: str, token: Token) -> bytes:
    """The stored bytes of ``token``: encrypted, bound to its key name."""
    plain = json.dumps(
        {
            "access": token.access.reveal(),
            "expires_at": token.expires_at,
            "refresh": None if token.refresh is None else token.refresh.reveal(),
            "obtained_at": token.obtained_at,
        }
    ).encode()
    nonce = os.urandom(NONCE_BYTES)
    return nonce + cipher.encrypt(nonce, plain, key_name.encode())


def unseal(cipher: AESGCM, key_name: str, data: bytes) -> Token | None:
    """The token in ``data``; None when it does not decrypt (another key, tampered, old)."""
    try:
        plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_name.encode())
        raw = json.loads(plain)
        refresh = raw.get("refresh")
        return Token(
            Secret(str(raw["access"])),
            None if raw.get("expires_at") is None else float(raw["expires_at"]),
            None if refresh is None else Secret(str(refresh)),
            float(raw.get("obtained_at") or 0.0),
        )
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None


class RedisTokens:
    """Tokens in Redis under ``P:v1:oauth:H`` (H: the keyed hash of the (server, client) identity)."""

    def __init__(self, connection: RedisConnection, keys: KeySpace, secret: Secret) -> None:
        self._connection = connection
        self._keys = keys
        self._cipher = token_cipher(secret)

    def key_name(self, identity: str) -> str:
        """The key one token lives under: no server URL, client id or token in it."""
        return self._keys.token_key(identity)

    async def get(self, identity: str) -> Token | None:
        name = self.key_name(identity)
        data = await self._connection.call("oauth-get", "GET", name)
        return None if data is None else unseal(self._cipher, name, bytes(data))

    async def put(self, identity: str, token: Token, ttl_s: float) -> None:
        name = self.key_name(identity)
        ttl_ms = max(1, int(ttl_s * 1000))
        await self._connection.call(
            "oauth-put", "SET", name, seal(self._cipher, name, token), "PX", ttl_ms
        )

    async def delete(self, identity: str) -> None:
        await self._connection.call("oauth-delete", "DEL", self.key_name(identity))
