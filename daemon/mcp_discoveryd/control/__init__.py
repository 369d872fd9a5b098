"""The control socket: HTTP/1.1 and MCP over a Unix socket, and the client gateways import."""
