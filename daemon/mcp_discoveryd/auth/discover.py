"""MCP authorization discovery: a 401's ``resource_metadata`` -> RFC 9728 -> RFC 8414.

The SDK's helpers build the candidate URLs and validate the documents, so
the rules (path-aware well-known URIs, the OIDC fallback) stay the SDK's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import TokenError

if TYPE_CHECKING:  # imported where a request is sent: a stdio-only run never sends one
    import httpx2


@dataclass(frozen=True, slots=True)
class Found:
    """Where tokens for one server come from, and the resource they are for (RFC 8707)."""

    token_url: str
    resource: str | None
    authorization_url: str | None = None  # for the one-time browser login (auth/login.py)


async def discover(
    http: httpx2.AsyncClient, server_url: str, challenge: httpx2.Response | None
) -> Found:
    """The token endpoint of ``server_url``'s authorization server; ``TokenError`` if none."""
    from ..discovery.transports.sdk_shim import (
        build_oauth_authorization_server_metadata_discovery_urls,
        build_protected_resource_metadata_discovery_urls,
        extract_resource_metadata_from_www_auth,
        handle_auth_metadata_response,
        handle_protected_resource_response,
    )

    hinted = None if challenge is None else extract_resource_metadata_from_www_auth(challenge)
    resource: str | None = None
    auth_server: str | None = None
    for url in build_protected_resource_metadata_discovery_urls(hinted, server_url):
        response = await _get(http, url)
        if response is not None and (prm := await handle_protected_resource_response(response)):
            resource = str(prm.resource)
            auth_server = str(prm.authorization_servers[0])
            break
    for url in build_oauth_authorization_server_metadata_discovery_urls(auth_server, server_url):
        response = await _get(http, url)
        if response is None:
            continue
        go_on, metadata = await handle_auth_metadata_response(response)
        if metadata is not None:
            return Found(
                str(metadata.token_endpoint), resource, str(metadata.authorization_endpoint)
            )
        if not go_on:
            break
    raise TokenError(
        "discovery",
        f"no token endpoint found for {server_url} (protected resource and authorization "
        "server metadata); configure token_url",
    )


async def _get(http: httpx2.AsyncClient, url: str) -> httpx2.Response | None:
    import httpx2

    try:
        response = await http.get(url, headers={"accept": "application/json"})
        await response.aread()
    except httpx2.HTTPError:
        return None  # the next candidate may answer
    return response
