"""The key that seals upstream OAuth tokens in a shared Redis: from [cache] token_key or a file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..auth.spec import MIN_KEY_CHARS
from ..secret import Secret
from .settings import CacheSettings


def token_sharing_problems(settings: CacheSettings) -> Iterator[tuple[str, str]]:
    """(key, what is wrong) for token sharing that could not work; never echoes the key."""
    if not settings.share_tokens:
        return
    if settings.backend != "redis":
        yield "share_tokens", "share_tokens needs the redis backend (tokens stay in memory)"
    if (settings.token_key is None) == (settings.token_key_file is None):
        yield "token_key", "share_tokens needs exactly one of token_key or token_key_file"
        return
    try:
        key = read_token_key(settings)
    except OSError as exc:
        yield "token_key_file", f"cannot read it: {exc.strerror or type(exc).__name__}"
        return
    if key is not None and len(key.reveal()) < MIN_KEY_CHARS:
        yield "token_key", f"the token key needs at least {MIN_KEY_CHARS} characters"


def read_token_key(settings: CacheSettings) -> Secret | None:
    """The configured token key (the file's first line), or None when tokens are not shared."""
    if not settings.share_tokens:
        return None
    if settings.token_key is not None:
        return settings.token_key
    if settings.token_key_file is None:
        return None
    text = Path(settings.token_key_file).read_text(encoding="utf-8")
    return Secret(text.splitlines()[0].strip() if text.strip() else "")
