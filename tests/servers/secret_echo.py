"""Upstreams that echo their secrets back, to prove that what they say is scrubbed.

As a script (``python secret_echo.py NAME...``) it is a stdio server that writes the
values of the named environment variables (and ``Bearer <value>``) to stderr, then
exits 3 before the handshake. ``echo_app()`` is an HTTP server that answers the
handshake with a JSON-RPC error quoting every header, the query and Basic auth.
"""

from __future__ import annotations

import base64
import os
import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SCRIPT = __file__


def echo_app() -> Starlette:
    """POST /mcp: a JSON-RPC error whose message repeats what the request carried."""

    async def answer(request: Request) -> Response:
        body = await request.json()
        said = [f"{name}={value}" for name, value in request.headers.items()]
        said.append(f"query={request.url.query}")
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            said.append("basic=" + base64.b64decode(credential).decode())
        elif credential:
            said.append("bare=" + credential)
        error = {"code": -32602, "message": "rejected: " + " ".join(said)}
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": error})

    return Starlette(routes=[Route("/mcp", answer, methods=["POST"])])


def main(names: list[str]) -> int:
    """Echo the named variables to stderr and fail before the handshake."""
    for name in names:
        value = os.environ.get(name, "")
        print(f"{name} is {value}; sending Bearer {value}", file=sys.stderr)
    print("status: success, debug true, level info", file=sys.stderr)
    return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
