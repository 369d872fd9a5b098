#!/usr/bin/env python3
"""A reference guardrail provider: the HTTP shape of [guardrails.provider], on starlette.

    python3 daemon/examples/guardrail_provider.py --port 8700 \\
        --block-description 'ignore (all )?previous' --block-server 'curl|wget'

It blocks tools whose description matches a ``--block-description`` pattern and
servers whose command, args or URL match a ``--block-server`` pattern (regular
expressions, case-insensitive), and allows the rest. Point the daemon at it with::

    [guardrails.provider]
    url = "http://127.0.0.1:8700/check"

The request and answer shapes are the README's ("Guardrails"); a real provider
would put its own judgement where ``_judge_*`` are.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _matches(patterns: Sequence[re.Pattern[str]], text: str) -> list[str]:
    return [f"matches blocked pattern '{p.pattern}'" for p in patterns if p.search(text)]


def _judge_server(server: dict[str, Any], patterns: Sequence[re.Pattern[str]]) -> dict[str, Any]:
    parts = [server.get("command") or "", *(server.get("args") or []), server.get("url") or ""]
    reasons = _matches(patterns, " ".join(str(p) for p in parts))
    return {"allow": not reasons, "reasons": reasons}


def _judge_tool(entry: dict[str, Any], patterns: Sequence[re.Pattern[str]]) -> dict[str, Any]:
    description = entry.get("definition", {}).get("description") or ""
    reasons = [f"description {r}" for r in _matches(patterns, str(description))]
    return {"id": entry.get("id"), "allow": not reasons, "reasons": reasons}


def make_app(block_description: Sequence[str] = (), block_server: Sequence[str] = ()) -> Starlette:
    """The provider's ASGI app; ``app.state.requests`` counts the checks it answered."""
    tool_patterns = [re.compile(p, re.IGNORECASE) for p in block_description]
    server_patterns = [re.compile(p, re.IGNORECASE) for p in block_server]

    async def check(request: Request) -> JSONResponse:
        request.app.state.requests += 1
        try:
            body = json.loads(await request.body())
            kind = body["kind"]
            if kind == "server":
                return JSONResponse(_judge_server(body["server"], server_patterns))
            if kind == "tools":
                verdicts = [_judge_tool(entry, tool_patterns) for entry in body["tools"]]
                request.app.state.tools += len(verdicts)
                return JSONResponse({"verdicts": verdicts})
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return JSONResponse({"error": "not a guardrail check"}, status_code=400)

    app = Starlette(routes=[Route("/check", check, methods=["POST"])])
    app.state.requests = 0
    app.state.tools = 0  # tool definitions judged
    return app


def main() -> None:
    """Serve the reference provider until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument("--block-description", action="append", default=[], metavar="REGEX")
    parser.add_argument("--block-server", action="append", default=[], metavar="REGEX")
    args = parser.parse_args()
    app = make_app(args.block_description, args.block_server)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
