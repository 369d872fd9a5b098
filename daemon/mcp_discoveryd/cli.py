"""argv -> command; the only place that prints for humans.

Exit codes: 0 success, 1 some server failed or was blocked (or a cache call
failed), 2 usage error
(unknown gateway or server included), 78 configuration error (EX_CONFIG, which
systemd units are told not to restart on).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import TextIO

import anyio

from . import __version__
from .config import load_config
from .config.model import DaemonConfig
from .errors import ConfigError, DiscoveryError
from .models import DiscoveryReport, ServerOutcome
from .redaction import redact
from .report import report_json

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(
        prog="mcp-discoveryd", description="Discover and cache what MCP servers offer."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    check = commands.add_parser("check-config", help="validate a config file")
    check.add_argument("path")

    discover = commands.add_parser("discover", help="run one discovery and print the results")
    discover.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    discover.add_argument("--gateway", help="only this gateway (config id)")
    discover.add_argument("--server", help="only this server")
    discover.add_argument("--json", action="store_true", help="print the JSON report")
    discover.add_argument(
        "--refresh", action="store_true", help="ignore cached entries and ask the upstreams"
    )

    cache = commands.add_parser("cache", help="read or clear the configured cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True)
    status = cache_commands.add_parser("status", help="print the cache status as JSON")
    status.add_argument("--config", required=True)
    status.add_argument("--gateway", help="include this gateway's entries (config id)")
    clear = cache_commands.add_parser("clear", help="clear entries and print the result")
    clear.add_argument("--config", required=True)
    clear.add_argument("--gateway", help="only this gateway (default: every gateway)")
    clear.add_argument("--server", help="only this server")
    clear.add_argument(
        "--type",
        dest="cache_type",
        help="all (default), gateway_config (gateway, gateway_cache, gateway_config_cache), "
        "or server_config (tools)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    # httpx2 logs each request's full URL at INFO, query tokens included.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLogger().level))
    if args.command == "check-config":
        return check_config(args.path)
    if args.command == "cache":
        return cache_command(args)
    return discover(args)


def _load(path: str) -> DaemonConfig | None:
    """The config, or None after printing every problem found in it."""
    try:
        return load_config(path)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return None


def check_config(path: str) -> int:
    """Validate a config file and list every problem found."""
    config = _load(path)
    if config is None:
        return EXIT_CONFIG
    servers = sum(len(g.servers) for g in config.gateways)
    print(f"{path}: ok ({config.format}, {len(config.gateways)} gateway(s), {servers} server(s))")
    return EXIT_OK


def discover(args: argparse.Namespace) -> int:
    """Run one standalone discovery: no daemon, results into the configured cache."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    progress = _Progress(sys.stderr) if not args.json and sys.stderr.isatty() else None
    try:
        report = anyio.run(_discover, config, args, progress)
    except DiscoveryError as exc:
        print(f"mcp-discoveryd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if progress is not None:
        progress.clear()
    secrets = config.secrets()
    if args.json:
        print(redact(json.dumps(report_json(report), indent=2), secrets))
    else:
        print(redact(render_table(report), secrets))
    return EXIT_OK if report.status == "success" else EXIT_FAILED


def cache_command(args: argparse.Namespace) -> int:
    """`cache status` and `cache clear`: one call on the configured cache, JSON out."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    if args.gateway is not None and config.gateway(args.gateway) is None:
        known = ", ".join(g.id for g in config.gateways)
        print(f"mcp-discoveryd: unknown gateway {args.gateway!r} (known: {known})", file=sys.stderr)
        return EXIT_USAGE
    result = anyio.run(_cache_call, config, args)
    print(redact(json.dumps(result, indent=2), config.secrets()))
    return EXIT_OK if result.get("status") in ("success", "info") else EXIT_FAILED


async def _cache_call(config: DaemonConfig, args: argparse.Namespace) -> dict[str, object]:
    from .cache import open_cache

    async with open_cache(config) as cache:
        if args.cache_command == "status":
            gateway = config.gateway(args.gateway) if args.gateway else None
            return await cache.status(gateway, config)
        return await cache.clear(
            gateway_id=args.gateway, server_name=args.server, cache_type=args.cache_type
        )


async def _discover(
    config: DaemonConfig, args: argparse.Namespace, progress: _Progress | None
) -> DiscoveryReport:
    from .cache import open_cache
    from .discovery.phases import run_discovery, select
    from .discovery.upstream import UpstreamClient

    total = len(select(config, args.gateway, args.server))
    if progress is not None:
        progress.total = total
        progress.show()
    async with open_cache(config) as cache, UpstreamClient(config.discovery) as upstream:
        return await run_discovery(
            config,
            upstream,
            gateway_id=args.gateway,
            server_name=args.server,
            cache=cache,
            refresh=args.refresh,
            on_progress=progress.advance if progress is not None else None,
        )


class _Progress:
    """A live progress line on a terminal while servers are still running."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.total = 0
        self.done = 0
        self.failed = 0

    def advance(self, outcome: ServerOutcome) -> None:
        self.done += 1
        self.failed += 0 if outcome.ok else 1
        self.show()

    def show(self) -> None:
        running = self.total - self.done
        line = f"discovering: {self.done}/{self.total} done, {running} running"
        if self.failed:
            line += f", {self.failed} failed"
        self.stream.write("\r\x1b[2K" + line)
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[2K")
        self.stream.flush()


def render_table(report: DiscoveryReport) -> str:
    """A readable table of outcomes and a summary line."""
    multi = len({o.gateway_id for o in report.outcomes}) > 1
    header = ["SERVER", "STATUS", "SOURCE", "TOOLS", "PROMPTS", "RES", "BLOCKED", "TIME"]
    header += ["QUEUED", "NOTE"]
    rows = [header]
    for o in report.outcomes:
        name = f"{o.gateway_id}/{o.server_name}" if multi else o.server_name
        rows.append(
            [
                name,
                o.status,
                o.source if o.status != "blocked" else "-",
                str(len(o.catalog.tools)),
                str(len(o.catalog.prompts)),
                str(len(o.catalog.resources) + len(o.catalog.resource_templates)),
                str(len(o.blocked_tools)),
                f"{o.duration_s:.2f}s",
                f"{o.queued_s:.2f}s",
                _note(o),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1]
        for r in rows
    ]
    ok = sum(1 for o in report.outcomes if o.ok)
    lines.append("")
    lines.append(
        f"status: {report.status} ({ok}/{len(report.outcomes)} servers ok) "
        f"in {report.duration_s:.2f}s"
    )
    return "\n".join(line.rstrip() for line in lines)


def _note(o: ServerOutcome) -> str:
    if o.status == "blocked":
        return "blocked: " + "; ".join(o.violations)
    if o.error is not None:
        return f"{o.error.kind.value}: {o.error.message}"
    if o.blocked_tools:
        return "; ".join(f"{b.name}: {', '.join(b.reasons)}" for b in o.blocked_tools)
    return ""


if __name__ == "__main__":
    sys.exit(main())
