"""The commands that ask a running daemon over its control socket.

``status``, ``discover`` (without ``--config``), ``clear``, ``reload``, ``catalog`` and
``accept``: one request each through ``control.client.SyncControlClient``, a table for
people or the daemon's JSON with ``--json``. No daemon answering exits 69, a refused
change 77, an unknown gateway or server 2, a failed server or a catalog not cached 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import (
    ControlRequestError,
    DaemonStoppingError,
    DaemonUnavailable,
    NotFoundError,
    RefusedError,
)
from ..models import JSONObject
from .grammar import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)
from .standalone import socket_of

if TYPE_CHECKING:
    from ..control.client import SyncControlClient

DISCOVER_TIMEOUT = 600.0  # seconds: a discover of every server waits for the slowest


def ask_daemon(args: argparse.Namespace) -> int:
    """Send the command's request, print the answer, and say how it went."""
    from ..control.client import DEFAULT_TIMEOUT, SyncControlClient

    path = socket_of(args)
    if path is None:
        return EXIT_CONFIG
    timeout = DISCOVER_TIMEOUT if args.command == "discover" else DEFAULT_TIMEOUT
    try:
        with SyncControlClient(path, timeout=timeout) as daemon:
            return _run(daemon, args)
    except DaemonUnavailable as exc:
        return _fail(f"{exc} (is `mcp-discoveryd run` running?)", EXIT_UNAVAILABLE)
    except RefusedError as exc:
        return _fail(f"refused: {exc.message}", EXIT_NOPERM)
    except DaemonStoppingError as exc:
        # 503: stopping, or Redis's pool busy past busy_wait; the daemon's message says which
        return _fail(exc.message, EXIT_UNAVAILABLE)
    except NotFoundError as exc:
        return _fail(exc.message, EXIT_FAILED if "no catalog cached" in exc.message else EXIT_USAGE)
    except ControlRequestError as exc:
        return _fail(exc.message, EXIT_USAGE if 400 <= exc.status < 500 else EXIT_FAILED)


def _run(daemon: SyncControlClient, args: argparse.Namespace) -> int:
    from ..render_replies import render_catalog, render_discovered, render_status

    command = args.command
    if command == "status":
        reply = daemon.status(args.gateway)
        _print(args, reply, render_status)
        return EXIT_OK
    if command == "catalog":
        catalog = daemon.catalog(args.name, args.gateway)
        assert catalog.data is not None  # no ETag was sent, so never a 304
        _print(args, catalog.data, render_catalog)
        return EXIT_OK
    if command == "discover":
        reply = daemon.discover(args.server, args.gateway, refresh=args.refresh)
        _print(args, reply, render_discovered)
        return EXIT_OK if reply.get("status") == "success" else EXIT_FAILED
    if command == "clear":
        reply = daemon.clear(
            args.gateway, args.server, args.cache_type, forget_logins=args.forget_logins
        )
    elif command == "reload":
        reply = daemon.reload()
    else:
        reply = daemon.accept(args.name, args.gateway, args.tool)
    _print(args, reply, _summary)
    return EXIT_OK if reply.get("status", "success") in ("success", "info") else EXIT_FAILED


def _print(
    args: argparse.Namespace, reply: JSONObject, render: Callable[[JSONObject], str]
) -> None:
    print(json.dumps(reply, indent=2) if args.json else render(reply))


def _summary(reply: JSONObject) -> str:
    """A clear, reload or accept answer: its message, else its fields one per line."""
    if isinstance(reply.get("message"), str):
        return f"{reply.get('status', 'success')}: {reply['message']}"
    return "\n".join(f"{key}: {json.dumps(value)}" for key, value in reply.items())


def _fail(message: str, code: int) -> int:
    print(f"mcp-discoveryd: {message}", file=sys.stderr)
    return code
