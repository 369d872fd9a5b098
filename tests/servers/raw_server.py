"""A standard-library MCP stdio server with knobs for every fault the upstream client must survive.

Starts in about 50 ms (the SDK's own servers take ~1.5 s), so tests that are
about processes, deadlines and faults use it. Behaviour by flag:

    --tools N --page-size K     N tools in pages of K (0: one page)
    --repeat-cursor             every page points to the same next cursor
    --description-bytes B       pad each tool description to B bytes
    --huge-line B               answer tools/list with one reply line of B bytes
    --prompts / --resources     advertise and serve those lists
    --ttl-ms MS                 put ttlMs and cacheScope "public" on tools/list
    --slow-ms MS                sleep before every answer
    --start-ms MS               sleep once before serving (a package fetch, a slow start)
    --timeline FILE             append "start <ns>" / "end <ns>" (monotonic) to FILE
    --stderr TEXT               write TEXT lines to stderr at start
    --exit-code C               write --stderr, then exit at once with C
    --fail-while FILE           exit at once with code 3 while FILE exists (a switchable outage)
    --hang                      read nothing and answer nothing, forever
    --ignore-term               ignore SIGTERM (only SIGKILL ends it)
    --garbage N                 write N non-JSON lines on stdout at start
    --grandchild                start a background `sleep` in our process group first
    --linger                    keep running after stdin closes (with --ignore-term: until SIGKILL)
    --fail METHOD=CODE          answer METHOD with a JSON-RPC error CODE
    --bad-tool                  list a tool with no name (not valid MCP)
    --protocol VERSION          claim this protocol version in the handshake
    --ignore-unknown            never answer a method it does not know (no -32601)
    --tools-file FILE           list the tools in FILE (a JSON list), read at each tools/list
    --record-meta FILE          append each request's method and params._meta to FILE (JSON lines)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser()
    p.add_argument("--tools", type=int, default=3)
    p.add_argument("--page-size", type=int, default=0)
    p.add_argument("--repeat-cursor", action="store_true")
    p.add_argument("--description-bytes", type=int, default=0)
    p.add_argument("--huge-line", type=int, default=0)
    p.add_argument("--prompts", action="store_true")
    p.add_argument("--resources", action="store_true")
    p.add_argument("--ttl-ms", type=int, default=None)
    p.add_argument("--slow-ms", type=int, default=0)
    p.add_argument("--start-ms", type=int, default=0)
    p.add_argument("--timeline", default=None)
    p.add_argument("--stderr", action="append", default=[])
    p.add_argument("--exit-code", type=int, default=None)
    p.add_argument("--fail-while", default=None)
    p.add_argument("--hang", action="store_true")
    p.add_argument("--ignore-term", action="store_true")
    p.add_argument("--garbage", type=int, default=0)
    p.add_argument("--grandchild", action="store_true")
    p.add_argument("--linger", action="store_true")
    p.add_argument("--fail", action="append", default=[])
    p.add_argument("--bad-tool", action="store_true")
    p.add_argument("--protocol", default=None)
    p.add_argument("--ignore-unknown", action="store_true")
    p.add_argument("--tools-file", default=None)
    p.add_argument("--record-meta", default=None)
    return p.parse_args()


def _mark(path: str | None, what: str) -> None:
    if path:
        with open(path, "a") as f:
            f.write(f"{what} {time.monotonic_ns()} {os.getpid()}\n")


def _tools(args: argparse.Namespace) -> list[dict[str, Any]]:
    pad = "x" * args.description_bytes
    return [
        {
            "name": f"tool_{i}",
            "title": f"Tool {i}",
            "description": f"Tool number {i}. {pad}",
            "inputSchema": {"type": "object", "properties": {"n": {"type": "integer"}}},
            "annotations": {"readOnlyHint": True},
            "_meta": {"example.com/index": i},
        }
        for i in range(args.tools)
    ]


def _page(args: argparse.Namespace, items: list[dict[str, Any]], key: str, cursor: Any) -> Any:
    if not args.page_size:
        return {key: items}
    if args.repeat_cursor:  # page 1 and every later page point to the same next page
        return {key: items[: args.page_size], "nextCursor": "again"}
    start = int(cursor or 0)
    result: dict[str, Any] = {key: items[start : start + args.page_size]}
    if start + args.page_size < len(items):
        result["nextCursor"] = str(start + args.page_size)
    return result


class RpcError(Exception):
    """Answer with a JSON-RPC error."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _answer(args: argparse.Namespace, method: str, params: dict[str, Any]) -> Any:
    if args.record_meta:
        with open(args.record_meta, "a") as f:
            f.write(json.dumps({"method": method, "_meta": params.get("_meta")}) + "\n")
    for rule in args.fail:
        failing, code = rule.split("=")
        if method == failing:
            raise RpcError(int(code), f"{method} is broken on purpose")
    if method == "initialize":
        caps: dict[str, Any] = {"tools": {"listChanged": False}}
        if args.prompts:
            caps["prompts"] = {}
        if args.resources:
            caps["resources"] = {}
        return {
            "protocolVersion": args.protocol or params.get("protocolVersion", "2025-11-25"),
            "capabilities": caps,
            "serverInfo": {"name": "raw-test", "version": "9.9.9"},
        }
    if method == "tools/list":
        if args.bad_tool:
            return {"tools": [{"description": "a tool with no name"}]}
        if args.huge_line:
            return {
                "tools": [
                    {
                        "name": "huge",
                        "description": "y" * args.huge_line,
                        "inputSchema": {"type": "object"},
                    }
                ]
            }
        tools = _tools(args)
        if args.tools_file:  # a test rewrites it between runs: a rug pull upstream
            with open(args.tools_file) as f:
                tools = json.load(f)
        result = _page(args, tools, "tools", params.get("cursor"))
        if args.ttl_ms is not None:
            result.update(ttlMs=args.ttl_ms, cacheScope="public")
        return result
    if method == "prompts/list":
        return {"prompts": [{"name": "greet", "arguments": [{"name": "who", "required": True}]}]}
    if method == "resources/list":
        return {"resources": [{"uri": "raw://readme", "name": "readme", "mimeType": "text/plain"}]}
    if method == "resources/templates/list":
        return {"resourceTemplates": [{"uriTemplate": "raw://item/{id}", "name": "item"}]}
    if method == "ping":
        return {}
    raise RpcError(-32601, f"Method not found: {method}")


def main() -> None:
    args = _args()
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _mark(args.timeline, "start")
    if args.grandchild:  # inherits our process group and our stderr; outlives us unless killed
        subprocess.Popen(["sleep", "300"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    for line in args.stderr:
        print(line, file=sys.stderr, flush=True)
    if args.exit_code is not None:
        sys.exit(args.exit_code)
    if args.fail_while and os.path.exists(args.fail_while):
        print("outage switched on", file=sys.stderr, flush=True)
        sys.exit(3)
    for i in range(args.garbage):
        print(f"garbage line {i}: this is not JSON-RPC", flush=True)
    if args.hang:
        while True:
            time.sleep(3600)
    time.sleep(args.start_ms / 1000)
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "id" not in msg or "method" not in msg:
            continue
        if args.slow_ms:
            time.sleep(args.slow_ms / 1000)
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": msg["id"]}
        try:
            reply["result"] = _answer(args, msg["method"], msg.get("params") or {})
        except RpcError as exc:
            if exc.code == -32601 and args.ignore_unknown:
                continue
            reply["error"] = {"code": exc.code, "message": str(exc)}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    _mark(args.timeline, "end")
    while args.linger:
        time.sleep(3600)


if __name__ == "__main__":
    main()
