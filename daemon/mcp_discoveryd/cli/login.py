"""``mcp-discoveryd auth login SERVER``: a person's one-time login for an authorization_code server."""

from __future__ import annotations

import argparse
import sys
import webbrowser

import anyio

from ..auth.login import login
from ..auth.logins import LoginStore
from ..errors import TokenError
from ..models import RemoteTarget
from .grammar import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_USAGE
from .standalone import _load


def auth_login(args: argparse.Namespace) -> int:
    """Run the browser flow for one server and keep its refresh token in the state directory."""
    config = _load(args.config)
    if config is None:
        return EXIT_CONFIG
    found = [
        (gw.id, spec)
        for gw in config.gateways
        if args.gateway in (None, gw.id)
        for spec in gw.servers
        if spec.name == args.server
    ]
    if len(found) != 1:
        what = "no server" if not found else "several servers (name one with --gateway)"
        print(f"auth login: {what} named {args.server!r} in {args.config}", file=sys.stderr)
        return EXIT_USAGE
    _, spec = found[0]
    target = spec.target
    if (
        not isinstance(target, RemoteTarget)
        or target.oauth is None
        or target.oauth.grant != "authorization_code"
    ):
        print(
            f"auth login: {args.server!r} has no oauth table with grant_type = "
            '"authorization_code"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    oauth = target.oauth
    store = LoginStore(args.state_dir or config.daemon.state_dir)

    def show(url: str) -> None:
        print(
            f"Open this address to log in (waiting up to 5 minutes):\n\n  {url}\n", file=sys.stderr
        )
        if not args.no_browser:
            webbrowser.open(url)

    try:
        path = anyio.run(lambda: login(oauth, target.url.reveal(), store, show))
    except TokenError as exc:
        print(f"auth login: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"logged in: the refresh token is kept in {path}")
    return EXIT_OK
