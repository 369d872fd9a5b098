"""A remote server's OAuth client: the TOML ``[... .servers.S.oauth]`` table and Enkrypt's
``oauth_config``, both made into ``auth.spec.OAuthSpec`` and checked alike.

TOML keys: ``client_id``, ``client_secret`` (a secret; ``${VAR}`` expands like
any other), ``token_url`` (omitted: MCP authorization discovery), ``scope``,
``audience``, ``resource``, ``client_auth`` ("basic" | "post"), ``extra_params``,
``headers``, ``client_cert``, ``client_key``, ``ca_bundle``, ``enforce_https``
(default true), ``expiry_buffer`` (a duration, default 300 s), ``enabled``,
``grant_type`` ("client_credentials" | "authorization_code"), ``authorization_url``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from ..auth.spec import DEFAULT_EXPIRY_BUFFER, OAuthSpec
from ..secret import Secret
from .fields import Duration
from .problems import KeyPath, Problems, validate

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class OAuthTable(BaseModel):
    """[gateways.<id>.servers.<name>.oauth]"""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, hide_input_in_errors=True)

    enabled: bool = True
    # authorization_code: a person logs in once (``mcp-discoveryd auth login``), the daemon
    # refreshes from the refresh token kept in its state directory
    grant_type: Literal["client_credentials", "authorization_code"] = "client_credentials"
    authorization_url: str | None = None  # authorization_code; omitted: found by discovery
    client_id: str = Field(min_length=1)
    client_secret: str | None = None
    token_url: str | None = None
    scope: str | None = None
    audience: str | None = None
    resource: str | None = None
    client_auth: Literal["basic", "post"] = "basic"
    extra_params: dict[str, str] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    client_cert: str | None = None
    client_key: str | None = None
    ca_bundle: str | None = None
    enforce_https: bool = True
    expiry_buffer: Duration = DEFAULT_EXPIRY_BUFFER


def oauth_from_toml(
    raw: object, path: KeyPath, base_dir: Path, problems: Problems
) -> OAuthSpec | None:
    """The server's OAuth client (None when absent or disabled); problems for what cannot work."""
    table = validate(OAuthTable, raw, path, problems)
    if table is None or not table.enabled:
        return None
    return _checked(table, path, base_dir, problems)


# Enkrypt's oauth_config keys -> ours (Secure MCP Gateway's names, read as they are).
ENKRYPT_KEYS = {
    "OAUTH_GRANT_TYPE": "grant_type",
    "OAUTH_CLIENT_ID": "client_id",
    "OAUTH_CLIENT_SECRET": "client_secret",
    "OAUTH_TOKEN_URL": "token_url",
    "OAUTH_SCOPE": "scope",
    "OAUTH_AUDIENCE": "audience",
    "OAUTH_RESOURCE": "resource",
    "OAUTH_TOKEN_EXPIRY_BUFFER": "expiry_buffer",
    "OAUTH_USE_BASIC_AUTH": "client_auth",
    "OAUTH_CLIENT_CERT_PATH": "client_cert",
    "OAUTH_CLIENT_KEY_PATH": "client_key",
    "OAUTH_CA_BUNDLE_PATH": "ca_bundle",
    "OAUTH_ADDITIONAL_PARAMS": "extra_params",
    "OAUTH_CUSTOM_HEADERS": "headers",
    "OAUTH_ENFORCE_HTTPS": "enforce_https",
    "enabled": "enabled",
}
_ENKRYPT_ONLY = frozenset({"OAUTH_USE_MTLS", "OAUTH_VERSION", "OAUTH_TOKEN_ENDPOINT_AUTH_METHOD"})


def oauth_from_enkrypt(
    raw: object, path: KeyPath, base_dir: Path, problems: Problems
) -> OAuthSpec | None:
    """Enkrypt's ``oauth_config`` (its ``OAUTH_*`` keys and ``enabled``) as our OAuth client."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.add(path, "oauth_config must be an object")
        return None
    if raw.get("enabled") is False:
        return None
    mapped: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ENKRYPT_KEYS:
            if value is not None:
                mapped[ENKRYPT_KEYS[key]] = value
        elif key not in _ENKRYPT_ONLY:
            problems.add((*path, key), "unknown oauth_config key")
    if "client_auth" in mapped:
        basic = mapped["client_auth"]
        mapped["client_auth"] = "basic" if basic is True else "post" if basic is False else basic
    if isinstance(mapped.get("grant_type"), str):
        mapped["grant_type"] = mapped["grant_type"].lower()
    if isinstance(mapped.get("expiry_buffer"), int | float) and not isinstance(
        mapped["expiry_buffer"], bool
    ):
        mapped["expiry_buffer"] = float(mapped["expiry_buffer"])
    mapped.setdefault("enabled", True)
    use_mtls = raw.get("OAUTH_USE_MTLS")
    if use_mtls is False:  # the paths only count when mTLS is on, as in the gateway
        mapped.pop("client_cert", None)
        mapped.pop("client_key", None)
    elif use_mtls is True and not mapped.get("client_cert"):
        problems.add((*path, "OAUTH_CLIENT_CERT_PATH"), "OAUTH_USE_MTLS needs a client certificate")
    table = validate(OAuthTable, mapped, path, problems)
    if table is None:
        return None
    return _checked(table, path, base_dir, problems)


def _checked(table: OAuthTable, path: KeyPath, base_dir: Path, problems: Problems) -> OAuthSpec:
    """The spec, after the checks of what could never get a token."""
    if table.token_url is not None:
        parts = urlsplit(table.token_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            problems.add((*path, "token_url"), "token_url must be an http(s) URL with a host")
        elif table.enforce_https and parts.scheme != "https" and parts.hostname not in LOOPBACK:
            problems.add(
                (*path, "token_url"),
                "token_url is plain HTTP while enforce_https is on: use https:// "
                "(or set enforce_https = false, for a test server only)",
            )
    files = {}
    for key in ("client_cert", "client_key", "ca_bundle"):
        value = getattr(table, key)
        if value is None:
            continue
        resolved = os.path.normpath(base_dir / value)
        if not os.path.isfile(resolved):
            problems.add((*path, key), "no such file")
        files[key] = resolved
    if "client_key" in files and "client_cert" not in files:
        problems.add((*path, "client_key"), "client_key needs client_cert")
    if table.expiry_buffer < 0:
        problems.add((*path, "expiry_buffer"), "expiry_buffer must not be negative")
    return OAuthSpec(
        client_id=table.client_id,
        client_secret=None if table.client_secret is None else Secret(table.client_secret),
        grant=table.grant_type,
        authorization_url=table.authorization_url,
        token_url=table.token_url,
        scope=table.scope,
        audience=table.audience,
        resource=table.resource,
        client_auth=table.client_auth,
        extra_params=tuple(sorted(table.extra_params.items())),
        headers=_secrets(table.headers),
        client_cert=files.get("client_cert"),
        client_key=files.get("client_key"),
        ca_bundle=files.get("ca_bundle"),
        enforce_https=table.enforce_https,
        expiry_buffer=table.expiry_buffer,
    )


def _secrets(headers: Mapping[str, str]) -> dict[str, Secret]:
    return {name: Secret(value) for name, value in headers.items()}
