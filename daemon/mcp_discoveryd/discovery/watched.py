"""One long-lived watched session: open it, report each list_changed, return when it ends.

The upstream side of list_changed watching (``actors/watcher.py`` reopens, bounds and
debounces). Both protocol eras:

- classic sessions (up to 2025-11-25): ``notifications/{tools,prompts,resources}/
  list_changed`` arrive through the SDK client's public ``message_handler``. Nothing
  tells an idle classic session that its server died, so it is pinged every
  ``ping_s``; a failed ping ends it.
- 2026-07-28 sessions: ``Client.listen()`` (``subscriptions/listen``); change
  events arrive on the subscription, and a dropped stream raises
  ``SubscriptionLost``, which ends the session.

Transports: streamable HTTP through the SDK's ``streamable_http_client`` (it opens
the standalone GET stream that server-initiated notifications travel on; the lean
discovery transport has none), SSE through the SDK's ``sse_client``, stdio through
the SDK's ``stdio_client`` (a child that lives as long as the watch). Remote ones
send through the daemon's shared HTTP client (``transports/client.py``).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import anyio

from ..models import RemoteTarget, ServerSpec, StdioTarget, Transport
from .childenv import child_environment

if TYPE_CHECKING:  # the SDK is imported once a session opens (see upstream.py)
    from .transports.client import SharedClient
    from .transports.sdk_shim import TransportStreams

logger = logging.getLogger(__name__)

Kind = Literal["tools", "prompts", "resources"]
KINDS: tuple[Kind, ...] = ("tools", "prompts", "resources")
MIN_SSE_READ = 300.0  # seconds an SSE stream may stay silent before the SDK drops it


@dataclass(frozen=True, slots=True)
class Opened:
    """What a watched session learned when it opened."""

    protocol_version: str
    advertised: tuple[Kind, ...]  # the lists whose capability says listChanged
    how: str  # "notifications" or "subscriptions/listen"


@dataclass(frozen=True, slots=True)
class Ended:
    """Why a watched session ended; ``unwatchable`` ones are not reopened."""

    reason: str
    unwatchable: bool = False
    opened: bool = False  # the session got as far as its handshake


async def watch_session(
    spec: ServerSpec,
    http: Callable[[], SharedClient],
    *,
    mode: Literal["legacy", "auto"],
    require_advertised: bool,
    ping_s: float,
    on_open: Callable[[Opened], None],
    on_change: Callable[[Kind], None],
) -> Ended:
    """Hold one session with ``spec``'s server until it ends; never raises for upstream faults.

    ``require_advertised``: a server whose capabilities advertise no listChanged
    is not watched (``Ended(unwatchable=True)``). Connecting is bounded by
    ``spec.timeout``; the session itself by nothing but its server.
    """
    from mcp import Client, types
    from mcp.client.subscriptions import ListenNotSupportedError

    from .upstream import client_info

    async def on_message(message: object) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            on_change("tools")
        elif isinstance(message, types.PromptListChangedNotification):
            on_change("prompts")
        elif isinstance(message, types.ResourceListChangedNotification):
            on_change("resources")
        elif isinstance(message, Exception):  # a transport fault the SDK survived
            logger.debug("watched %s: %r", spec.name, message)

    opened = False
    try:
        with anyio.CancelScope(deadline=anyio.current_time() + spec.timeout) as connecting:
            client = Client(
                _transport(spec, http, ping_s),
                mode=mode,
                cache=None,
                client_info=client_info(),
                message_handler=on_message,
            )
            async with client:
                connecting.deadline = math.inf  # connected: the session lives on
                opened = True
                caps = client.server_capabilities
                advertised = tuple(
                    kind for kind in KINDS if (c := getattr(caps, kind)) and c.list_changed
                )
                if require_advertised and not advertised:
                    return Ended("no listChanged capability", unwatchable=True, opened=True)
                wanted = advertised or KINDS
                try:
                    listening = client.listen(
                        tools_list_changed="tools" in wanted,
                        prompts_list_changed="prompts" in wanted,
                        resources_list_changed="resources" in wanted,
                    )
                    async with listening as subscription:
                        on_open(Opened(client.protocol_version, advertised, "subscriptions/listen"))
                        async for event in subscription:
                            on_change(_kind_of(event))
                    return Ended("the server closed the subscription", opened=True)
                except ListenNotSupportedError:
                    pass  # a classic session: notifications come through on_message
                on_open(Opened(client.protocol_version, advertised, "notifications/*/list_changed"))
                while True:
                    await anyio.sleep(ping_s)
                    with anyio.fail_after(spec.timeout):
                        await (
                            client.session.send_ping()
                        )  # Client.send_ping warns: ping is gone at 2026-07-28
        return Ended(f"connecting took longer than {spec.timeout:g}s")
    except Exception as exc:  # noqa: BLE001 - upstream faults are data; cancellation passes
        return Ended(_describe(exc), opened=opened)


def _kind_of(event: object) -> Kind:
    from mcp.client.subscriptions import PromptsListChanged, ToolsListChanged

    if isinstance(event, ToolsListChanged):
        return "tools"
    return "prompts" if isinstance(event, PromptsListChanged) else "resources"


def _describe(exc: BaseException) -> str:
    """The first leaf of an exception group, in a few words (no URLs: they may carry secrets)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    message = getattr(exc, "message", None) or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if message != type(exc).__name__ else message


def _transport(
    spec: ServerSpec, http: Callable[[], SharedClient], ping_s: float
) -> AbstractAsyncContextManager[TransportStreams]:
    target = spec.target
    if isinstance(target, StdioTarget):
        return _stdio(target)
    if target.transport is Transport.SSE:
        return _sse(target, http(), spec.timeout, max(MIN_SSE_READ, 3 * ping_s))
    return _streamable(target, http(), spec.timeout)


@asynccontextmanager
async def _streamable(
    target: RemoteTarget, shared: SharedClient, limit_s: float
) -> AsyncIterator[TransportStreams]:
    from mcp.client.streamable_http import streamable_http_client

    from .transports.client import HttpWatch

    client = shared.client_for(target, HttpWatch(), limit_s)
    async with client, streamable_http_client(target.url.reveal(), http_client=client) as streams:
        yield streams


@asynccontextmanager
async def _sse(
    target: RemoteTarget, shared: SharedClient, limit_s: float, read_s: float
) -> AsyncIterator[TransportStreams]:
    from .transports.client import HttpWatch
    from .transports.sse import sse_transport

    watch = HttpWatch(transport="sse")
    async with sse_transport(shared, target, watch, limit_s, read_s=read_s) as streams:
        yield streams


@asynccontextmanager
async def _stdio(target: StdioTarget) -> AsyncIterator[TransportStreams]:
    from mcp import StdioServerParameters
    from mcp.client.stdio import stdio_client

    params = StdioServerParameters(
        command=target.command,
        args=list(target.args),
        env=child_environment(target, os.environ),
        cwd=target.cwd,
    )
    # /dev/null never blocks; a watched child's stderr is not kept
    with open(os.devnull, "w") as errlog:  # noqa: ASYNC230
        async with stdio_client(params, errlog=errlog) as streams:
            yield streams
