"""Upstream errors reported for what they are: a server's JSON-RPC error, DNS, SSE URLs, stderr.

Real servers throughout: an SDK server whose handler raises ``MCPError``, the
standard-library stdio server answering the handshake with an error or
exiting with npm-like stderr, a host name under the reserved ``.invalid`` TLD,
and an SSE server configured as streamable HTTP.
"""

from __future__ import annotations

import sys

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import MCPError, types
from mcp.server import Server, ServerRequestContext
from tests.discovery.upstream_support import fetch, raw
from tests.discovery.upstream_support import settings as discovery_settings
from tests.servers.http_harness import serve_app
from tests.servers.sdk_servers import build_high

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.upstream import UpstreamClient
from mcp_discoveryd.models import ErrorKind, ServerSpec, StdioTarget, Transport

# The codes the SDK uses for its own timeout and closed connection, then any others.
SERVER_CODES = [-32001, -32000, -32603, 42]

NPM_STDERR = [
    "npm error code E404",
    "npm error 404 Not Found - GET https://registry.example/@acme%2fnope - Not found",
    "npm error 404",
    "npm error 404  '@acme/nope@*' is not in this registry.",
    "npm error A complete log of this run can be found in: /root/.npm/_logs/debug-0.log",
]


def _refusing(code: int, message: str | None = None) -> Server[object]:
    """An SDK server whose tools/list handler raises MCPError(code)."""

    async def list_tools(
        ctx: ServerRequestContext[object], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        raise MCPError(code, message or f"upstream says no ({code})")

    return Server("refusing", version="0.1.0", on_list_tools=list_tools)


@pytest.mark.parametrize("code", SERVER_CODES)
async def test_a_servers_json_rpc_error_in_a_list_is_its_own_not_a_timeout(code: int) -> None:
    """The server's code and message are kept; the kind is protocol_error, never timeout."""
    async with serve_app(_refusing(code).streamable_http_app()) as base:
        spec = ServerSpec("refusing", remote_target(f"{base}/mcp"), timeout=10)
        result, _ = await fetch(spec)
    assert result.error is not None, result
    assert result.error.kind is ErrorKind.PROTOCOL_ERROR, result.error
    assert f"JSON-RPC error {code}" in result.error.message
    assert f"upstream says no ({code})" in result.error.message


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    message=st.text(st.characters(codec="ascii", min_codepoint=32), min_size=1, max_size=60),
)
def test_any_code_and_message_a_server_answers_with_is_reported_as_its_own(
    code: int, message: str
) -> None:
    """Generated codes (the SDK's reserved ones among them) and messages, over the SDK in process."""
    assume_message = message.strip() or "x"

    async def run() -> None:
        async with UpstreamClient(discovery_settings()) as client:
            result = await client.fetch_in_process(_refusing(code, assume_message), limit_s=10)
        assert result.error is not None, result
        assert result.error.kind is ErrorKind.PROTOCOL_ERROR, result.error
        assert result.error.message.endswith(f"JSON-RPC error {code}: {assume_message}")

    anyio.run(run)


@pytest.mark.parametrize("code", SERVER_CODES)
async def test_a_servers_json_rpc_error_in_the_handshake_is_its_own(code: int) -> None:
    """A stdio server answering initialize with an error: reported as that error, at once."""
    result, wall = await fetch(raw(f"--fail=initialize={code}", timeout=20))
    assert result.error is not None, result
    assert result.error.kind is ErrorKind.PROTOCOL_ERROR, result.error
    assert "the handshake" in result.error.message
    assert f"JSON-RPC error {code}: initialize is broken on purpose" in result.error.message
    assert wall < 10  # not the deadline


async def test_the_table_note_quotes_the_telling_stderr_line_and_json_keeps_the_tail() -> None:
    """npm's 404 is quoted, not its pointer to a log file; the whole tail stays in the data."""
    flags = [f"--stderr={line}" for line in NPM_STDERR]
    result, _ = await fetch(raw(*flags, "--exit-code", "1"))
    assert result.error is not None, result
    assert "stderr: npm error 404 Not Found - GET" in result.error.message, result.error.message
    assert "complete log" not in result.error.message
    assert list(result.error.stderr_tail) == NPM_STDERR
    assert result.error.to_json()["stderr_tail"] == NPM_STDERR


async def test_a_python_traceback_is_summed_up_by_its_exception_line() -> None:
    """A server that dies on import: the note names the missing module."""
    code = "import sys; print('starting', file=sys.stderr); import no_such_module_here"
    spec = ServerSpec("broken", StdioTarget(sys.executable, ("-c", code)), timeout=10)
    result, _ = await fetch(spec)
    assert result.error is not None, result
    assert "stderr: ModuleNotFoundError: No module named 'no_such_module_here'" in (
        result.error.message
    )


@pytest.mark.parametrize("transport", [Transport.STREAMABLE_HTTP, Transport.SSE])
async def test_a_host_name_that_does_not_resolve_is_name_not_found(transport: Transport) -> None:
    """DNS failure has its own kind and wording, not connection_refused."""
    spec = ServerSpec(
        "nowhere", remote_target("http://mcp.nowhere.invalid/mcp", transport), timeout=10
    )
    result, _ = await fetch(spec)
    assert result.error is not None, result
    assert result.error.kind is ErrorKind.NAME_NOT_FOUND, result.error
    assert "name not found: 'mcp.nowhere.invalid'" in result.error.message


async def test_an_sse_url_configured_as_streamable_http_gets_a_hint() -> None:
    """An SSE server refuses the POST; the message says to set transport = "sse"."""
    async with serve_app(build_high().sse_app()) as base:
        spec = ServerSpec("old", remote_target(f"{base}/sse"), timeout=10)
        result, _ = await fetch(spec)
    assert result.error is not None, result
    assert 'set transport = "sse"' in result.error.message, result.error


async def test_a_streamable_server_that_fails_gets_no_sse_hint() -> None:
    """The hint is for SSE endpoints only: a 404 on a streamable URL keeps its own advice."""
    async with serve_app(build_high().streamable_http_app()) as base:
        spec = ServerSpec("typo", remote_target(f"{base}/mpc"), timeout=10)
        result, _ = await fetch(spec)
    assert result.error is not None and result.error.kind is ErrorKind.HTTP_STATUS, result
    assert 'transport = "sse"' not in result.error.message
