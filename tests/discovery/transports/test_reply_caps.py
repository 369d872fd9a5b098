"""Reply caps count decoded bytes: compression bombs stop at the cap, in bounded memory.

A real uvicorn server sends a small compressed body that inflates far past
the cap, with and without a Content-Length, over streamable HTTP and SSE; a
client in its own process reports the outcome and its peak RSS growth.
"""

from __future__ import annotations

import json
import os
import sys
import zlib
from functools import cache
from pathlib import Path

import anyio
import pytest
from starlette.types import Receive, Scope, Send
from tests.servers.http_harness import serve_app

PROBE = Path(__file__).with_name("reply_probe.py")
ROOT = Path(__file__).resolve().parents[3]
INFLATED_MIB = 128  # what the bomb decodes to; the client's cap is 1 MiB
RSS_BOUND_MIB = 48  # peak growth allowed: the cap (2x on the wire) plus decoding steps


@cache
def bomb(coding: str) -> bytes:
    """INFLATED_MIB of one repeated byte, compressed: about a thousandth of that on the wire."""
    wbits = zlib.MAX_WBITS | 16 if coding == "gzip" else zlib.MAX_WBITS
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = b"a" * (1024 * 1024)
    body = b"".join(packer.compress(block) for _ in range(INFLATED_MIB)) + packer.flush()
    return body


class _BombApp:
    """Answers every POST (streamable HTTP) and GET (SSE) with the bomb."""

    def __init__(self, coding: str, chunked: bool, content_type: str) -> None:
        self.coding = coding
        self.chunked = chunked
        self.content_type = content_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = bomb(self.coding)
        headers = [
            (b"content-type", self.content_type.encode()),
            (b"content-encoding", self.coding.encode()),
        ]
        if not self.chunked:
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if not self.chunked:
            await send({"type": "http.response.body", "body": body})
            return
        step = 16 * 1024
        for start in range(0, len(body), step):
            chunk = body[start : start + step]
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


async def _probe(url: str, transport: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'daemon'}{os.pathsep}{ROOT}"}
    done = await anyio.run_process(
        [sys.executable, str(PROBE), url, transport], env=env, check=False
    )
    assert done.returncode == 0, done.stderr.decode()
    report: dict[str, object] = json.loads(done.stdout)
    return report


@pytest.mark.slow
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("coding", ["gzip", "deflate"])
async def test_a_compression_bomb_over_streamable_http_is_oversized_in_bounded_memory(
    coding: str, chunked: bool
) -> None:
    """128 MiB inflated from ~128 KB: oversized_reply, and the client never holds the lot."""
    app = _BombApp(coding, chunked, "application/json")
    async with serve_app(app) as base:
        report = await _probe(f"{base}/mcp", "streamable-http")
    assert report["kind"] == "oversized_reply", report
    assert isinstance(report["growth_mib"], float) and report["growth_mib"] < RSS_BOUND_MIB, report


@pytest.mark.slow
async def test_a_compression_bomb_on_an_sse_stream_is_oversized_in_bounded_memory() -> None:
    """The SSE transport's event stream is decoded and capped the same way."""
    app = _BombApp("gzip", True, "text/event-stream")
    async with serve_app(app) as base:
        report = await _probe(f"{base}/sse", "sse")
    assert report["kind"] == "oversized_reply", report
    assert isinstance(report["growth_mib"], float) and report["growth_mib"] < RSS_BOUND_MIB, report
