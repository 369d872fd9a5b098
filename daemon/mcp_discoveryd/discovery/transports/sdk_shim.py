"""The MCP SDK's (and its HTTP client's) private and internal names this package uses, all in one file.

The SDK's public API (``mcp.Client``, ``mcp.MCPError``, ``mcp_types``) is
imported where it is used. What is not public (underscore modules, module
globals, helpers the SDK's own transports share, httpx2's choice of a
transport per URL and its pools' network backend, httpcore2's socket helpers)
is used here only, so an SDK or httpx2 upgrade that moves
one of them breaks this file and nothing else.
"""

from __future__ import annotations

import httpcore2
import httpx2
import mcp.client.session as _session
from httpcore2._types import SOCKET_OPTION
from httpcore2._utils import is_socket_readable
from mcp import MCPError
from mcp.client._transport import Transport as SdkTransport
from mcp.client._transport import TransportStreams
from mcp.client.auth.utils import (  # MCP authorization discovery (auth/discover.py)
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    extract_resource_metadata_from_www_auth,
    handle_auth_metadata_response,
    handle_protected_resource_response,
)
from mcp.shared._httpx_utils import redirect_location, stream_within_origin
from mcp.shared.auth import OAuthToken  # the token response model (auth/grant.py)
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp.shared.jsonrpc_dispatcher import cancelled_request_id_from_params
from mcp.shared.message import ClientMessageMetadata, SessionMessage
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT

__all__ = [
    "MCP_PROTOCOL_VERSION_HEADER",
    "SOCKET_OPTION",
    "ClientMessageMetadata",
    "OAuthToken",
    "SdkTransport",
    "SessionMessage",
    "TransportStreams",
    "build_oauth_authorization_server_metadata_discovery_urls",
    "build_protected_resource_metadata_discovery_urls",
    "cancelled_request_id_from_params",
    "extract_resource_metadata_from_www_auth",
    "handle_auth_metadata_response",
    "handle_protected_resource_response",
    "is_own_connection_closed",
    "is_own_request_timeout",
    "is_socket_readable",
    "redirect_location",
    "set_discover_probe_timeout",
    "stream_within_origin",
    "transport_for_url",
    "use_network_backend",
]


def set_discover_probe_timeout(seconds: float) -> None:
    """Bound the ``server/discover`` probe of mode "auto" (a process-wide SDK global, read per call)."""
    _session.DISCOVER_TIMEOUT_SECONDS = seconds


def is_own_request_timeout(exc: MCPError) -> bool:
    """The SDK's own request timeout (raised from a TimeoutError), not a server's -32001."""
    return exc.code == REQUEST_TIMEOUT and isinstance(exc.__context__, TimeoutError)


def is_own_connection_closed(exc: MCPError) -> bool:
    """The SDK's own "connection closed" outcome (the transport ended), not a server's -32000."""
    return exc.code == CONNECTION_CLOSED and exc.message == "Connection closed" and exc.data is None


def transport_for_url(client: httpx2.AsyncClient, url: httpx2.URL) -> httpx2.AsyncBaseTransport:
    """The transport ``client`` sends ``url``'s requests through: a proxy's mount, or its own pool."""
    return client._transport_for_url(url)


def use_network_backend(client: httpx2.AsyncClient, backend: httpcore2.AsyncNetworkBackend) -> None:
    """Make ``client``'s pools (its own and each proxy's) open connections through ``backend``.

    httpx2's transports take no network backend; their httpcore2 pools read it at each connect.
    """
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        if isinstance(pool, httpcore2.AsyncConnectionPool):
            pool._network_backend = backend
