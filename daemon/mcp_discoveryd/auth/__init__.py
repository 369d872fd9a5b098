"""Upstream OAuth: the client credentials grant, MCP authorization discovery, the token cache.

``spec`` holds the values (one server's OAuth client), ``grant`` the token
request, ``discover`` the 401 -> RFC 9728 -> RFC 8414 walk, ``tokens`` the
cache (a cache type of its own), ``store`` where tokens live (memory, or
Redis encrypted), ``bearer`` what the HTTP transports call.
"""
