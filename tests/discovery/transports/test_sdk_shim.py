"""Private MCP SDK names are imported in sdk_shim.py only, so an SDK upgrade breaks one file."""

from __future__ import annotations

import ast
from pathlib import Path

import mcp_discoveryd
from mcp_discoveryd.discovery.transports import sdk_shim

PACKAGE = Path(mcp_discoveryd.__file__).parent
# The SDK's public surface as this package uses it; anything else goes through the shim.
PUBLIC = (
    "mcp",
    "mcp.client.sse",
    "mcp.client.stdio",
    "mcp.client.streamable_http",  # streamable_http_client: the watched sessions' transport
    "mcp.client.subscriptions",  # what Client.listen() raises and yields (2026-07-28)
    "mcp.server",
    "mcp.server.context",  # ServerRequestContext: what a low-level server's handlers receive
    "mcp.server.mcpserver",
    "mcp.server.stdio",  # stdio_server: the `mcp` bridge's transport
    "mcp.server.streamable_http_manager",  # how an app mounts streamable HTTP (/mcp)
)


def _sdk_imports(path: Path) -> list[str]:
    """Every ``mcp``/``mcp.*`` module that ``path`` imports."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in names if name == "mcp" or name.startswith("mcp.")]
    return found


def test_only_the_shim_imports_the_sdks_private_modules() -> None:
    shim = Path(sdk_shim.__file__)
    offenders = {
        str(path.relative_to(PACKAGE)): private
        for path in PACKAGE.rglob("*.py")
        if path != shim and (private := [name for name in _sdk_imports(path) if name not in PUBLIC])
    }
    assert offenders == {}


def test_the_shim_is_where_the_private_imports_are() -> None:
    """The guard above looks at real imports: the shim's own show up under it."""
    private = [name for name in _sdk_imports(Path(sdk_shim.__file__)) if name not in PUBLIC]
    assert "mcp.client._transport" in private


# Private httpx2/httpcore2 attributes the package reaches for (through the shim only); names
# that our own classes use too (``_pool``, ``_transport``) would not tell the two apart.
HTTP_PRIVATES = ("_transport_for_url", "_mounts", "_network_backend")


def _private_attributes(path: Path) -> set[str]:
    """The HTTP_PRIVATES that ``path`` reads or sets as attributes of any object."""
    tree = ast.parse(path.read_text(), str(path))
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in HTTP_PRIVATES
    }


def test_only_the_shim_reaches_into_httpx2s_private_attributes() -> None:
    """Which transport a URL takes (a proxy's mount or the pool) is the shim's business."""
    shim = Path(sdk_shim.__file__)
    offenders = {
        str(path.relative_to(PACKAGE)): found
        for path in PACKAGE.rglob("*.py")
        if path != shim and (found := _private_attributes(path))
    }
    assert offenders == {}
    assert "_transport_for_url" in _private_attributes(shim)
