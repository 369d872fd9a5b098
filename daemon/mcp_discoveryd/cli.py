"""argv -> command; the only place that prints for humans.

Exit codes are listed in EXIT_CODES (shown by ``--help``): 0 success, 1 some server
failed or was blocked, or a cache write or clear did not reach the shared cache (a
one-shot process has no later moment to retry in), 2 usage error (unknown gateway,
server or cache type included), 69 ``mcp``: no daemon answers on the control socket
(EX_UNAVAILABLE), 78 configuration error (EX_CONFIG, which systemd units are told
not to restart on), 141 stdout closed early (a reader such as `head`
went away: 128 + SIGPIPE, as a shell reports a tool killed by it).

Nothing printed here is rewritten: secrets are masked where they enter the config
(``secret.py``), so the output is exactly what the report says.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import anyio

from . import __version__
from .config import load_config
from .config.settings import DaemonConfig
from .errors import ConfigError, DiscoveryError, UnknownTargetError
from .models import CacheType, DiscoveryReport
from .render import Progress, render_offerings, render_table
from .report import report_json

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: no daemon answers on the control socket
EXIT_CONFIG = 78
EXIT_PIPE = 141

EXIT_CODES = f"""exit codes:
  {EXIT_OK:<3} success: every server answered (or the cache call succeeded)
  {EXIT_FAILED:<3} at least one server failed or was blocked, or results could not be stored/cleared
  {EXIT_USAGE:<3} usage error: bad arguments, or an unknown gateway, server or cache type
  {EXIT_UNAVAILABLE:<3} no daemon answers on the control socket (mcp and daemon commands), or run:
      the socket is served by another daemon or cannot be created (EX_UNAVAILABLE)
  70  run: a core part of the daemon failed (EX_SOFTWARE; the service manager restarts it)
  {EXIT_CONFIG:<3} configuration error (EX_CONFIG): the config file is missing or invalid
  {EXIT_PIPE:<3} stdout closed early (a reader such as head went away; 128 + SIGPIPE)
"""
LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar; ``--log-level`` is accepted before or after the subcommand."""
    parser = argparse.ArgumentParser(
        prog="mcp-discoveryd",
        description="Discover and cache what MCP servers offer.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default=None,
        choices=LOG_LEVELS,
        help="log to stderr from this level (default: INFO for run, WARNING otherwise)",
    )
    # Given after the subcommand, it overrides the one before it (SUPPRESS: no default there).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--log-level",
        default=argparse.SUPPRESS,
        choices=LOG_LEVELS,
        help="as before the command (overrides it)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        group: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
    ) -> argparse.ArgumentParser:
        return group.add_parser(
            name,
            help=help,
            description=help[:1].upper() + help[1:] + ".",
            parents=[common],
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    check = command(commands, "check-config", "validate a config file")
    check.add_argument("path", nargs="?", help="TOML or enkrypt_mcp_config.json (or use --config)")
    check.add_argument("--config", help="the config file, as for the other commands")
    check.add_argument(
        "--strict", action="store_true", help="treat warnings (unknown Enkrypt keys) as errors"
    )

    run = command(commands, "run", "run the daemon in the foreground until SIGTERM or Ctrl-C")
    run.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    run.add_argument(
        "--socket", help="serve the control socket here (overrides the config's [control] socket)"
    )

    discover = command(commands, "discover", "run one discovery and print the results")
    discover.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    discover.add_argument("--gateway", help="only this gateway (config id)")
    discover.add_argument(
        "--server", help="only this server; the table is followed by its tools, prompts, resources"
    )
    discover.add_argument("--json", action="store_true", help="print the JSON report")
    discover.add_argument(
        "--refresh", action="store_true", help="ignore cached entries and ask the upstreams"
    )

    bridge = command(
        commands, "mcp", "serve the running daemon's MCP tools on stdin/stdout (for MCP clients)"
    )
    bridge.add_argument(
        "--socket",
        help="the daemon's control socket (default: the config's, else "
        "/run/mcp-discoveryd/control.sock)",
    )
    bridge.add_argument("--config", help="the daemon's config file, to find its socket")

    cache = command(commands, "cache", "read or clear the configured cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    status = command(cache_commands, "status", "print the cache status as JSON")
    status.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    status.add_argument("--gateway", help="include this gateway's entries (config id)")
    clear = command(cache_commands, "clear", "clear entries and print the result")
    clear.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    clear.add_argument("--gateway", help="only this gateway (default: every gateway)")
    clear.add_argument("--server", help="only this server")
    clear.add_argument(
        "--type",
        dest="cache_type",
        help="all (default), gateway_config (gateway, gateway_cache, gateway_config_cache), "
        "or server_config (tools)",
    )
    units = command(
        commands, "install-units", "install the systemd units, sysusers, example config"
    )
    units.add_argument("--root", default="/", help="install under this directory (default: /)")
    units.add_argument(
        "--prefix", default="/etc", help="/etc (default) or /usr/lib for a package's units"
    )
    units.add_argument("--exec", dest="executable", help="ExecStart's binary (default: this one)")
    units.add_argument(
        "--drop-in",
        action="append",
        default=[],
        metavar="NAME",
        help="also install this drop-in: notify-reload (253+), internet, admin-group",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # inside the guard: a closed pipe shows at the last flush too
    except BrokenPipeError:
        # The reader of stdout went away (`discover --json | head -1`): nothing more can be
        # shown, so exit quietly; stdout goes to /dev/null so the final flush cannot fail.
        with contextlib.suppress(OSError, ValueError):  # a stdout without a descriptor
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return EXIT_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("INFO" if args.command == "run" else "WARNING")
    if args.command == "run":  # a long-running process: each line says when
        fmt = "%(asctime)s %(levelname)-7s %(message)s"
        logging.basicConfig(level=level, format=fmt, datefmt="%H:%M:%S")
    else:
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # httpx2 logs each request's full URL at INFO, query tokens included; the SDK's SSE
    # client logs the URL it connects to at DEBUG with its user info (user:password@).
    quiet = max(logging.WARNING, logging.getLogger().level)
    # The SDK's stateless MCP endpoint logs "Terminating session" at INFO per request.
    for name in ("httpx2", "mcp.client.sse", "mcp.server.streamable_http"):
        logging.getLogger(name).setLevel(quiet)
    if args.command == "check-config":
        if args.path and args.config and args.path != args.config:
            parser.error("check-config: give the config file once (path or --config)")
        if not (args.path or args.config):
            parser.error("check-config: give the config file (path or --config)")
        return check_config(args.path or args.config, strict=args.strict)
    if args.command == "install-units":
        return install_units(args)
    if args.command == "cache":
        return cache_command(args)
    if args.command == "run":
        return run_daemon(args)
    if args.command == "mcp":
        return mcp_bridge(args)
    return discover(args)


def run_daemon(args: argparse.Namespace) -> int:
    """`run`: the daemon in the foreground; logs to stderr, exits 0 on SIGTERM/SIGINT."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    if args.socket is not None:
        config = dataclasses.replace(
            config, control=dataclasses.replace(config.control, socket=args.socket)
        )
    from .app import serve

    try:  # uvloop: the control socket's requests cost about half as much on it
        return anyio.run(serve, config, backend_options={"use_uvloop": True})
    except KeyboardInterrupt:  # Ctrl-C before the signal handler was installed
        return EXIT_OK


def mcp_bridge(args: argparse.Namespace) -> int:
    """`mcp`: a stdio MCP server bridging to the running daemon; 69 when none answers."""
    from .control.mcp_bridge import DEFAULT_SOCKET, serve_bridge
    from .errors import DaemonUnavailable

    socket_path = args.socket
    if socket_path is None and args.config is not None:
        config = _load(args.config)
        if config is None:
            return EXIT_CONFIG
        control = getattr(config, "control", None)  # the [control] section, where configured
        socket_path = getattr(control, "socket", None)
    try:
        anyio.run(serve_bridge, socket_path or DEFAULT_SOCKET)
    except DaemonUnavailable as exc:
        print(f"mcp-discoveryd: {exc} (is `mcp-discoveryd run` running?)", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except KeyboardInterrupt:  # Ctrl-C when run by hand: a quiet end, as for `run`
        return EXIT_OK
    return EXIT_OK


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
    from .units import install

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
        from .cache.status import clear_scope, describe_scope

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
    from .cache.status import clear_scope

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
    from .cache import open_cache

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
    from .cache import open_cache
    from .discovery.phases import run_discovery, select
    from .discovery.upstream import UpstreamClient

    selections = select(config, args.gateway, args.server)
    if progress is not None:
        progress.total = len(selections)
        progress.show()
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as upstream:
        report = await run_discovery(
            config,
            upstream,
            cache=cache,
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
        reason = cache.health.reason or "unreachable"
        return report, f"results not stored in {cache.backend} ({reason}): {' and '.join(what)}"


if __name__ == "__main__":
    sys.exit(main())
