"""argv -> command; the only place that prints for humans.

``grammar.py`` holds the commands and exit codes; ``standalone.py`` the commands that
work on a config file with no daemon; ``remote.py`` those that ask a running daemon
over its control socket. Exit codes (``--help``): 0 success, 1 some server failed or
was blocked, or a cache write or clear did not reach the shared cache, 2 usage error,
69 no daemon answers (or ``run``: the socket is another daemon's), 70 a core part of
the daemon failed, 77 the daemon refused a changing request, 78 configuration error
(EX_CONFIG, which systemd units are told not to restart on), 141 stdout closed early.

Nothing printed here is rewritten: secrets are masked where they enter the config
(``secret.py``), so the output is exactly what the report says.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence

from .grammar import (
    EXIT_CODES,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_NOPERM,
    EXIT_OK,
    EXIT_PIPE,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    build_parser,
)
from .remote import ask_daemon
from .standalone import (
    cache_command,
    check_config,
    discover,
    install_units,
    mcp_bridge,
    run_daemon,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_NOPERM",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "build_parser",
    "main",
]


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
    if args.command == "auth":
        from .login import auth_login

        return auth_login(args)
    if args.command == "discover" and args.config is not None:
        return discover(args)
    return ask_daemon(args)


if __name__ == "__main__":
    sys.exit(main())
