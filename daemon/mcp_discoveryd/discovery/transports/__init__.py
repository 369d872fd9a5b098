"""How discovery talks to upstreams: stdio children, streamable HTTP, SSE, the shared HTTP client.

``sdk_shim`` holds every private MCP SDK name these modules use.
"""
