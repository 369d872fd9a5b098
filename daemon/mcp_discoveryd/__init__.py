"""mcp-discoveryd: discovery and cache daemon for MCP gateway hosts."""

__version__ = "0.1.0"

__all__ = ["__version__"]
