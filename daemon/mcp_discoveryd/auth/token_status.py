"""What the token cache shows and when a token stops being used: values, never a token."""

from __future__ import annotations

from dataclasses import dataclass

from .grant import Token


def usable_until(token: Token, buffer: float) -> float | None:
    """When ``token`` stops being used: its expiry minus the buffer (at most half its life)."""
    if token.expires_at is None:
        return None
    life = max(0.0, token.expires_at - token.obtained_at)
    return token.expires_at - min(buffer, life / 2)


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """What status shows of one (server, client): never the token."""

    server: str  # the server URL, credentials removed
    client_id: str
    held: bool
    expires_at: float | None
    last_error: str | None
    login_required: bool = False  # authorization_code: a person must run `auth login` (again)
