"""Checking Redis connection URLs and Sentinel addresses; messages never echo a URL."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str) -> list[str]:
    """What is wrong with a Redis URL (empty when it is usable)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["not a valid URL (check the port and any [IPv6] brackets)"]
    if parts.scheme not in SCHEMES:
        shown = f"{parts.scheme!r}" if parts.scheme and len(parts.scheme) <= 12 else "none"
        return [f"unsupported scheme {shown}: use redis://, rediss:// (TLS) or unix://"]
    problems: list[str] = []
    db_in_query = parse_qs(parts.query).get("db", [])
    if parts.scheme == "unix":
        if parts.hostname or not parts.path.startswith("/"):
            problems.append("unix:// needs an absolute socket path, e.g. unix:///run/redis.sock")
        if port is not None:
            problems.append("unix:// takes no port")
        dbs = db_in_query
    else:
        if not parts.hostname:
            problems.append("no host: write redis://HOST[:PORT][/DB]")
        if port == 0:
            problems.append("port must be between 1 and 65535")
        path = parts.path.strip("/")
        dbs = [*db_in_query, path] if path else db_in_query
    for db in dbs:
        if not db.isdigit():
            problems.append("database must be a non-negative integer (redis://host:6379/0)")
            break
    return problems


def check_sentinel(address: str) -> str:
    """A Sentinel address as "host:port"; ValueError when it is not one."""
    host, sep, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad sentinel address {address!r}: write host:port, e.g. 10.0.0.5:26379")
    return address
