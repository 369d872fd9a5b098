"""Refresh tokens a person's one-time login left: one file per (server, client), mode 0600.

``<state_dir>/oauth/<H>.json`` (``H``: SHA-256 of the (server, client) identity,
so no URL or client id in a file name) holds the refresh token and the token
endpoint it works with. Written atomically (a temporary file renamed), created
0600 in a 0700 directory; the daemon rewrites it when a refresh rotates the token.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..secret import Secret


@dataclass(frozen=True, slots=True)
class Login:
    """What a login left: the refresh token and where to use it."""

    refresh: Secret
    token_url: str


class LoginStore:
    """The refresh token files under one state directory."""

    def __init__(self, state_dir: str | Path) -> None:
        self.directory = Path(state_dir) / "oauth"

    def path(self, identity: str) -> Path:
        """The file of one (server, client)."""
        return self.directory / f"{hashlib.sha256(identity.encode()).hexdigest()[:32]}.json"

    def read(self, identity: str) -> Login | None:
        """The stored login, or None (none yet, or unreadable)."""
        try:
            raw = json.loads(self.path(identity).read_text(encoding="utf-8"))
            return Login(Secret(str(raw["refresh_token"])), str(raw["token_url"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, identity: str, login: Login) -> Path:
        """Store ``login`` (0600, atomically); the file's path."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.path(identity)
        temporary = path.with_suffix(".tmp")
        body = json.dumps({"refresh_token": login.refresh.reveal(), "token_url": login.token_url})
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(temporary, path)
        return path

    def forget(self, identity: str) -> None:
        """Drop a login the authorization server no longer honours."""
        self.path(identity).unlink(missing_ok=True)
