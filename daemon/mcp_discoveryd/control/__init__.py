"""The control socket: HTTP/1.1 and MCP over a Unix socket, and the client gateways import."""

# What the MCP endpoint at /mcp and the stdio bridge both say they are: a client sees the
# same server whichever way it connects.
MCP_SERVER_NAME = "mcp-discoveryd"
MCP_INSTRUCTIONS = "Read and manage the MCP discovery cache of this host's mcp-discoveryd."
