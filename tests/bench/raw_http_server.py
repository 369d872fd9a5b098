"""Many MCP upstreams in one process, without the SDK: the "raw" mode of slow_http_server.py.

A standard-library HTTP/1.1 server speaking just enough streamable HTTP for
discovery: ``initialize`` (answered with a session id), notifications (202),
``tools/list`` (answered after the delay), ``DELETE`` (200), each reply plain
JSON on a kept-alive connection. It costs a fraction of a millisecond of CPU
per request, so the 50 upstreams it stands in for hardly compete with the
client for the machine: the fan-out benchmark then measures the client.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from .slow_http_server import TOOLS

SERVER_INFO = {"name": "slow-bench-raw", "version": "1"}
TOOLS_JSON = [tool.model_dump(by_alias=True, exclude_none=True, mode="json") for tool in TOOLS]
LAST_LIST = [0.0, 0.0]  # CPU seconds and time.monotonic() at the latest tools/list


def _reply(status: str, body: bytes = b"", extra: str = "") -> bytes:
    kind = "content-type: application/json\r\n" if body else ""
    head = f"HTTP/1.1 {status}\r\n{kind}content-length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def _answer(request_id: Any, result: dict[str, Any], extra: str = "") -> bytes:
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode()
    return _reply("200 OK", body, extra)


async def _post(body: bytes, delay: float) -> bytes:
    message = json.loads(body)
    method = message.get("method")
    if "id" not in message:
        return _reply("202 Accepted")
    if method == "initialize":
        result = {
            "protocolVersion": message["params"]["protocolVersion"],
            "capabilities": {"tools": {}},
            "serverInfo": SERVER_INFO,
        }
        return _answer(message["id"], result, f"mcp-session-id: {uuid.uuid4().hex}\r\n")
    if method == "tools/list":
        LAST_LIST[:] = [time.process_time(), time.monotonic()]
        await asyncio.sleep(delay)
        return _answer(message["id"], {"tools": TOOLS_JSON})
    error = {"code": -32601, "message": f"method not found: {method}"}
    body = json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": error}).encode()
    return _reply("200 OK", body)


async def _route(method: str, path: str, body: bytes, delay: float) -> bytes:
    if path == "/cpu":
        cpu_s, at = LAST_LIST
        cpu = {"cpu_s": time.process_time(), "last_list_cpu_s": cpu_s, "last_list_at": at}
        return _reply("200 OK", json.dumps(cpu).encode())
    if method == "POST":
        return await _post(body, delay)
    if method == "DELETE":
        return _reply("200 OK")
    return _reply("405 Method Not Allowed")


async def _connection(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length) if length else b""
            writer.write(await _route(method, path.partition("?")[0], body, delay))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the client closed the connection
    finally:
        writer.close()


async def serve(port: int, delay: float) -> None:
    """Serve until killed."""
    server = await asyncio.start_server(
        lambda r, w: _connection(r, w, delay), "127.0.0.1", port, backlog=1024
    )
    async with server:
        await server.serve_forever()
