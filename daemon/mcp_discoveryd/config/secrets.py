"""Finding the secret-looking values in a raw config document, for its problem reports.

A config that loads holds its secrets as ``Secret`` values (``secret.py``). One that
fails validation has none yet, and a problem's key path can itself be a secret (an
Enkrypt ``apikeys`` entry), so the loaders collect these values from the raw document
and the problems are scrubbed of them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

# Tables whose every string value is a secret (environment of a child process, HTTP headers).
SECRET_TABLES = frozenset({"env", "headers"})
_SECRET_NAMES = frozenset({"password", "secret", "apikey", "api_key", "token", "key_secret"})
_SECRET_SUFFIXES = ("_password", "_secret", "_apikey", "_api_key", "_token")
_SECRET_QUERY_NAMES = frozenset({"key", "sig", "signature", "auth", "code"})
_AUTH_SCHEMES = frozenset({"bearer", "basic", "token", "bot", "apikey"})  # Authorization schemes


def is_secret_key(key: str) -> bool:
    """True for key names that hold credentials (``password``, ``admin_apikey``, ...)."""
    lowered = key.lower()
    return lowered in _SECRET_NAMES or lowered.endswith(_SECRET_SUFFIXES)


def url_secrets(url: str) -> set[str]:
    """The password and credential-like query values of a URL (``https://u:pw@h/mcp?key=...``)."""
    try:
        parts = urlsplit(url)
        found = {parts.password, unquote(parts.password)} if parts.password else set()
    except ValueError:
        return set()
    found.update(
        value
        for name, value in parse_qsl(parts.query)
        if value and (is_secret_key(name) or name.lower() in _SECRET_QUERY_NAMES)
    )
    return found


def _secret_forms(value: str) -> set[str]:
    """A secret and, for "Bearer <token>"-style values, the credential alone.

    Unexpanded ``${VAR}`` references are names, not secrets.
    """
    scheme, _, credential = value.partition(" ")
    forms = {value}
    if scheme.lower() in _AUTH_SCHEMES and credential.strip():
        forms.add(credential.strip())
    return {form for form in forms if "${" not in form}


def collect_secrets(node: Any, in_secret_table: bool = False) -> set[str]:
    """Every secret-looking string value in a parsed document."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            key_is_secret = isinstance(key, str) and is_secret_key(key)
            if isinstance(value, str):
                if in_secret_table or key_is_secret:
                    found.update(_secret_forms(value))
                elif key == "url" or "://" in value:
                    found.update(url_secrets(value))
            else:
                nested = in_secret_table or key in SECRET_TABLES or key_is_secret
                found.update(collect_secrets(value, nested))
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, str):
                if in_secret_table:
                    found.update(_secret_forms(value))
                elif "://" in value:
                    found.update(url_secrets(value))
            else:
                found.update(collect_secrets(value, in_secret_table))
    return found
