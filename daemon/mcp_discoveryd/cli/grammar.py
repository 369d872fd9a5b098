"""The command-line grammar and the exit codes (shown by ``--help``).

Two kinds of command: standalone ones work on a config file with no daemon
(``check-config``, ``run``, ``discover --config``, ``cache status|clear``,
``install-units``); the others ask a running daemon over its control socket
(``status``, ``discover`` without ``--config``, ``clear``, ``reload``,
``catalog``, ``accept``, and the ``mcp`` bridge).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from .. import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: no daemon answers on the control socket
EXIT_NOPERM = 77  # EX_NOPERM: the daemon refused a changing request to this user
EXIT_CONFIG = 78
EXIT_PIPE = 141

EXIT_CODES = f"""exit codes:
  {EXIT_OK:<3} success: every server answered (or the cache call succeeded)
  {EXIT_FAILED:<3} at least one server failed or was blocked, or results could not be stored/cleared
  {EXIT_USAGE:<3} usage error: bad arguments, or an unknown gateway, server or cache type
  {EXIT_UNAVAILABLE:<3} no daemon answers on the control socket (mcp and daemon commands), or run:
      the socket is served by another daemon or cannot be created (EX_UNAVAILABLE)
  70  run: a core part of the daemon failed (EX_SOFTWARE; the service manager restarts it)
  {EXIT_NOPERM:<3} the daemon refused a changing request: not root, its user or the admin group
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

    discover = command(
        commands,
        "discover",
        "discover and print the results: with --config a standalone run, else the daemon's",
    )
    discover.add_argument(
        "--config",
        help="run standalone on this config (no daemon); without it the running daemon discovers",
    )
    discover.add_argument("--socket", help=f"the daemon's control socket (default: {SOCKET_HELP})")
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
    auth = command(commands, "auth", "upstream OAuth that needs a person once")
    auth_commands = auth.add_subparsers(dest="auth_command", required=True, metavar="ACTION")
    login = command(
        auth_commands, "login", "log in once in a browser (PKCE) for an authorization_code server"
    )
    login.add_argument("server", help="the server's name in the config")
    login.add_argument("--config", required=True, help="TOML or enkrypt_mcp_config.json")
    login.add_argument("--gateway", help="the server's gateway, when several have one so named")
    login.add_argument(
        "--state-dir", help="keep the refresh token here (default: [daemon] state_dir)"
    )
    login.add_argument("--no-browser", action="store_true", help="only print the address to open")
    add_daemon_commands(commands, command)
    return parser


SOCKET_HELP = "the config's [control] socket, else /run/mcp-discoveryd/control.sock"
Command = Callable[
    ["argparse._SubParsersAction[argparse.ArgumentParser]", str, str], argparse.ArgumentParser
]


def add_daemon_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser], command: Command
) -> None:
    """The commands that ask a running daemon over its control socket."""

    def asking(name: str, help: str) -> argparse.ArgumentParser:
        parser = command(commands, name, help + " (asks the running daemon)")
        parser.add_argument(
            "--socket", help=f"the daemon's control socket (default: {SOCKET_HELP})"
        )
        parser.add_argument("--config", help="the daemon's config file, to find its socket")
        parser.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
        return parser

    status = asking("status", "show each server's state, freshness and next refresh")
    status.add_argument("--gateway", help="only this gateway's servers and cache entries")
    catalog = asking("catalog", "show a server's cached tools, prompts and resources")
    catalog.add_argument("name", help="the server")
    catalog.add_argument("--gateway", help="the gateway, where several have this server")
    clear = asking("clear", "clear cache entries; the daemon rediscovers what it serves")
    clear.add_argument("--gateway", help="only this gateway (default: every gateway)")
    clear.add_argument("--server", help="only this server")
    clear.add_argument(
        "--type",
        dest="cache_type",
        help="all (default), gateway_config, server_config (tools), or tokens (OAuth access "
        "tokens: the next discovery gets new ones)",
    )
    clear.add_argument(
        "--forget-logins",
        action="store_true",
        help="with --type tokens: also drop stored logins (`auth login` is needed again)",
    )
    asking("reload", "re-read the daemon's config file (as SIGHUP)")
    accept = asking("accept", "accept a server's changed tool definitions (rug-pull check)")
    accept.add_argument("name", help="the server")
    accept.add_argument("--tool", help="only this tool (default: every pending change)")
    accept.add_argument("--gateway", help="the gateway, where several have this server")
