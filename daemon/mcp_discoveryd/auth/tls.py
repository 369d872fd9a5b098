"""The HTTP side of talking to an authorization server: TLS and the HTTPS rule."""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

from ..errors import TokenError
from .spec import OAuthSpec

LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def ssl_context_for(spec: OAuthSpec) -> ssl.SSLContext:
    """The TLS context toward ``spec``'s authorization server: its CA bundle, its client cert."""
    import httpx2  # here, not at the top: a stdio-only run imports this module, never calls it

    context = (
        ssl.create_default_context(cafile=spec.ca_bundle)
        if spec.ca_bundle
        else httpx2.create_ssl_context(trust_env=True)
    )
    if spec.client_cert:
        context.load_cert_chain(spec.client_cert, spec.client_key)
    return context


def check_secure(spec: OAuthSpec, token_url: str) -> None:
    """``TokenError`` (insecure) for a plain-HTTP token endpoint while HTTPS is enforced."""
    parts = urlsplit(token_url)
    if spec.enforce_https and parts.scheme != "https" and parts.hostname not in LOOPBACK:
        raise TokenError(
            "insecure", f"token endpoint {token_url} is not HTTPS and enforce_https is on"
        )
