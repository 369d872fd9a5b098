"""The standalone commands: they work on a config file, with no daemon.

``run`` starts the daemon; ``discover --config`` is a one-shot discovery into the
configured cache (it says so when a daemon already serves that config's socket);
``cache status|clear`` read and clear the configured cache directly; ``mcp`` is the
stdio bridge to a running daemon's MCP tools.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import socket
import sys
from pathlib import Path

import anyio

from ..config import load_config
from ..config.settings import DaemonConfig
from ..errors import ConfigError, DiscoveryError, UnknownTargetError
from ..models import CacheType, DiscoveryReport
from ..render import Progress, render_offerings, render_table
from ..report import report_json
from .grammar import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
)


def run_daemon(args: argparse.Namespace) -> int:
    """`run`: the daemon in the foreground; logs to stderr, exits 0 on SIGTERM/SIGINT."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    if args.socket is not None:
        config = dataclasses.replace(
            config, control=dataclasses.replace(config.control, socket=args.socket)
        )
    from ..app import serve

    try:  # uvloop: the control socket's requests cost about half as much on it
        return anyio.run(serve, config, backend_options={"use_uvloop": True})
    except KeyboardInterrupt:  # Ctrl-C before the signal handler was installed
        return EXIT_OK


def mcp_bridge(args: argparse.Namespace) -> int:
    """`mcp`: a stdio MCP server bridging to the running daemon; 69 when none answers."""
    from ..control.mcp_bridge import serve_bridge
    from ..errors import DaemonUnavailable

    socket_path = socket_of(args)
    if socket_path is None:
        return EXIT_CONFIG
    try:
        anyio.run(serve_bridge, socket_path)
    except DaemonUnavailable as exc:
        print(f"mcp-discoveryd: {exc} (is `mcp-discoveryd run` running?)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:  # Ctrl-C when run by hand: a quiet end, as for `run`
        return EXIT_OK
    return EXIT_OK


def socket_of(args: argparse.Namespace) -> str | None:
    """The control socket a command talks to: --socket, else the config's, else the default.

    None after printing the config's problems (the command then exits 78).
    """
    from ..config.settings import DEFAULT_SOCKET

    if args.socket is not None:
        return str(args.socket)
    if getattr(args, "config", None) is None:
        return DEFAULT_SOCKET
    config = _load(args.config)
    return config.control.socket if config is not None else None


def daemon_listens(path: str) -> bool:
    """Whether something accepts connections on the Unix socket at ``path`` (a plain
    connect: no HTTP client imported on a standalone command's way to its first spawn)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def _load(path: str) -> DaemonConfig | None:
    """The config, or None after printing every problem found in it."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None
    for warning in config.warnings:  # before anything runs, so a typo is seen first
        print(f"{path}: warning: {warning}", file=sys.stderr)
    return config


def check_config(path: str, strict: bool = False) -> int:
    """Validate a config file and list every problem found (warnings too, fatal if strict)."""
    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    if strict and config.warnings:
        print(f"{path}: {len(config.warnings)} warning(s), fatal under --strict", file=sys.stderr)
        return EXIT_CONFIG
    servers = sum(len(g.servers) for g in config.gateways)
    print(f"{path}: ok ({config.format}, {len(config.gateways)} gateway(s), {servers} server(s))")
    return EXIT_OK


def install_units(args: argparse.Namespace) -> int:
    """`install-units`: place the files, say what was done and what to run next."""
    from ..units import install

    try:
        placed = install(Path(args.root), args.prefix, args.executable, tuple(args.drop_in))
    except (ValueError, OSError) as exc:
        print(f"mcp-discoveryd: install-units: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED
    for item in placed:
        print(f"{'installed' if item.written else 'kept     '} {item.path}")
    tmpfiles = next(p.path for p in placed if p.path.parent.name == "tmpfiles.d")
    print(
        "next (as root): systemd-sysusers && systemd-tmpfiles --create "
        f"/{tmpfiles.relative_to(args.root)} && systemctl daemon-reload\n"
        "  edit /etc/mcp-discoveryd/config.toml, then: "
        "systemctl enable --now mcp-discoveryd.socket mcp-discoveryd.service"
    )
    return EXIT_OK


def discover(args: argparse.Namespace) -> int:
    """Run one standalone discovery: no daemon, results into the configured cache."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    if daemon_listens(config.control.socket):
        print(
            f"mcp-discoveryd: note: a daemon serves {config.control.socket}; this standalone "
            "run does not ask it (without --config, `discover` asks the daemon)",
            file=sys.stderr,
        )
    progress = Progress(sys.stderr) if not args.json and sys.stderr.isatty() else None
    try:
        report, unsaved = anyio.run(_discover, config, args, progress)
    except DiscoveryError as exc:
        print(f"mcp-discoveryd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if progress is not None:
        progress.clear()
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        print(render_table(report))
        if args.server is not None:
            print(render_offerings(report))
    if unsaved:
        print(f"mcp-discoveryd: {unsaved}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if report.status == "success" else EXIT_FAILED


def cache_command(args: argparse.Namespace) -> int:
    """`cache status` and `cache clear`: one call on the configured cache, JSON out."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    problem = _cache_usage_problem(config, args)
    if problem is not None:
        print(f"mcp-discoveryd: {problem}", file=sys.stderr)
        return EXIT_USAGE
    result = anyio.run(_cache_call, config, args)
    if result.get("deferred"):
        # A one-shot process exits before Redis returns: the clear would be lost, not deferred.
        from ..cache.status import clear_scope, describe_scope

        scope = clear_scope(args.gateway, args.server, args.cache_type)
        reason = result.get("reason") or "unreachable"
        message = f"not cleared: {describe_scope(scope)} (the shared cache: {reason})"
        result = {"status": "error", "message": message}
        print(f"mcp-discoveryd: {message}", file=sys.stderr)
    degraded = _degraded(result)
    if degraded is not None:
        # A fresh process's memory holds nothing: the figures are not the shared cache's.
        result["status"] = "error"
        print(f"mcp-discoveryd: status of this process's memory only: {degraded}", file=sys.stderr)
    print(json.dumps(result, indent=2))
    return EXIT_OK if result.get("status") in ("success", "info") else EXIT_FAILED


def _degraded(status: dict[str, object]) -> str | None:
    """Why the shared cache could not be read, when a status reply says so."""
    cache_status = status.get("cache_status")
    glob = cache_status.get("global") if isinstance(cache_status, dict) else None
    if not isinstance(glob, dict) or glob.get("health") != "degraded":
        return None
    reason = (glob.get("degraded") or {}).get("reason") or "unreachable"
    return f"{glob.get('backend')} {reason}"


def _cache_usage_problem(config: DaemonConfig, args: argparse.Namespace) -> str | None:
    """What is wrong with a cache command's gateway, server or type, or None."""
    if args.gateway is not None and config.gateway(args.gateway) is None:
        return str(UnknownTargetError("gateway", args.gateway, [g.id for g in config.gateways]))
    if args.cache_command != "clear":
        return None
    from ..auth.clearing import is_token_type
    from ..cache.status import clear_scope

    if is_token_type(args.cache_type):  # held by a running daemon, not in the cache
        return "OAuth tokens are held by the running daemon: `mcp-discoveryd clear --type tokens`"
    try:
        clear_scope(args.gateway, args.server, args.cache_type)
    except ValueError as exc:
        return str(exc)
    if args.server is not None:
        gateways = [g for g in config.gateways if args.gateway in (None, g.id)]
        known = {s.name for g in gateways for s in g.servers}
        if args.server not in known:
            return str(UnknownTargetError("server", args.server, sorted(known)))
    return None


async def _cache_call(config: DaemonConfig, args: argparse.Namespace) -> dict[str, object]:
    from ..cache import open_cache

    async with open_cache(config) as cache:
        if args.cache_command == "status":
            gateway = config.gateway(args.gateway) if args.gateway else None
            return await cache.status(gateway)
        result = await cache.clear(
            args.gateway, args.server, args.cache_type, gateways=config.gateways
        )
        if result.get("deferred"):
            result["reason"] = f"{cache.backend} {cache.health.reason or 'unreachable'}"
        return result


async def _discover(
    config: DaemonConfig, args: argparse.Namespace, progress: Progress | None
) -> tuple[DiscoveryReport, str | None]:
    """The report, and what the shared cache did not get (None when everything was stored)."""
    from ..cache import open_cache
    from ..discovery.guardrails.provider import configured_guardrails
    from ..discovery.phases import run_discovery
    from ..discovery.selection import select
    from ..discovery.upstream import UpstreamClient

    selections = select(config, args.gateway, args.server)
    if progress is not None:
        progress.total = len(selections)
        progress.show()
    async with (
        open_cache(config) as cache,
        UpstreamClient(config.discovery) as upstream,
        configured_guardrails(config) as checks,
    ):
        report = await run_discovery(
            config,
            upstream,
            cache=cache,
            checks=checks,
            refresh=args.refresh,
            on_progress=progress.advance if progress is not None else None,
            selections=selections,
        )
        unsaved = cache.pending_writes()
        if not unsaved:
            return report, None
        tools = [f"{g}/{s}" for t, g, s in unsaved if t is CacheType.TOOLS]
        configs = [g for t, g, _ in unsaved if t is CacheType.GATEWAY_CONFIG]
        what = [f"{len(tools)} catalog(s) ({', '.join(tools)})"] if tools else []
        what += [f"{len(configs)} gateway config(s) ({', '.join(configs)})"] if configs else []
        reason = cache.health.reason or (
            "its pool stayed busy" if cache.health.ok else "unreachable"
        )
        return report, f"results not stored in {cache.backend} ({reason}): {' and '.join(what)}"
