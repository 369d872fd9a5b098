"""Checking Redis connection URLs and Sentinel addresses; messages never echo a URL.

The query options are those redis-py's URL parser and connection classes accept,
with their types (``OPTIONS``): an option redis-py does not know, or a value it cannot
convert, would otherwise fail only at connect time (a TypeError deep in the client).
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

SCHEMES = ("redis", "rediss", "unix")
_HOST = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,62})(?:\.[a-z0-9_-]{1,63})*\.?")
_BAD_DB = "database must be a non-negative integer (redis://host:6379/0)"
_TRUE = frozenset({"1", "true", "yes", "y", "t", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "off"})


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered not in _TRUE | _FALSE:
        raise ValueError("must be true or false")
    return lowered in _TRUE


def _int(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isascii() or not text.isdigit():
            raise ValueError("must be a whole number")
        value = int(text)
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be {low} or more" + (f" and {high} or less" if high else ""))
        return value

    return parse


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be a positive number of seconds")
    return value


def _word(text: str) -> str:
    if not text or not text.isascii() or not text.isprintable() or " " in text:
        raise ValueError("must be printable ASCII without spaces")
    return text


def _path(text: str) -> str:
    if not text or "\0" in text:
        raise ValueError("must be a file path")
    return text


def _cert_reqs(text: str) -> str:
    if text not in ("none", "optional", "required"):
        raise ValueError("must be none, optional or required")
    return text


# name -> (parser, schemes it applies to). The parsers give the types redis-py expects.
OPTIONS: dict[str, tuple[Callable[[str], Any], tuple[str, ...]]] = {
    "db": (_int(0), SCHEMES),
    "socket_timeout": (_seconds, SCHEMES),
    "socket_connect_timeout": (_seconds, SCHEMES),
    "socket_keepalive": (_bool, ("redis", "rediss")),
    "health_check_interval": (_int(0), SCHEMES),
    "max_connections": (_int(2), SCHEMES),  # one of them is the invalidation listener's
    "protocol": (_int(2, 3), SCHEMES),
    "client_name": (_word, SCHEMES),
    "ssl_cert_reqs": (_cert_reqs, ("rediss",)),
    "ssl_check_hostname": (_bool, ("rediss",)),
    "ssl_ca_certs": (_path, ("rediss",)),
    "ssl_ca_path": (_path, ("rediss",)),
    "ssl_certfile": (_path, ("rediss",)),
    "ssl_keyfile": (_path, ("rediss",)),
}


def url_options(url: str) -> dict[str, Any]:
    """The query options of a checked URL, converted to what redis-py takes (first value wins)."""
    parsed: dict[str, Any] = {}
    for name, values in parse_qs(urlsplit(url).query).items():
        if name in OPTIONS and values:
            parsed[name] = OPTIONS[name][0](values[0])
    return parsed


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
    if parts.fragment:
        return ["a Redis URL has no #fragment"]
    problems: list[str] = []
    if parts.scheme == "unix":
        if parts.hostname or not parts.path.startswith("/"):
            problems.append("unix:// needs an absolute socket path, e.g. unix:///run/redis.sock")
        if port is not None:
            problems.append("unix:// takes no port")
    else:
        if not parts.hostname:
            problems.append("no host: write redis://HOST[:PORT][/DB]")
        elif not is_host(parts.hostname):
            problems.append("bad host: use a DNS name (ASCII labels of 1-63) or an IP address")
        if port == 0:
            problems.append("port must be between 1 and 65535")
        path = unquote(parts.path).strip("/")
        if path and not (path.isascii() and path.isdigit()):
            problems.append(_BAD_DB)
    problems += _query_problems(parts.query, parts.scheme)
    return problems


def _query_problems(query: str, scheme: str) -> list[str]:
    try:
        options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        return ["the query is not name=value pairs joined by '&'"]
    problems: list[str] = []
    for name, values in options.items():
        known = OPTIONS.get(name)
        shown = repr(name) if name.isascii() and name.isprintable() and len(name) <= 40 else "?"
        if known is None:
            problems.append(f"unknown URL option {shown} (known: {', '.join(OPTIONS)})")
            continue
        parse, schemes = known
        if scheme not in schemes:
            problems.append(f"URL option {shown} applies to {' and '.join(schemes)}:// only")
            continue
        for value in values:
            try:
                parse(value)
            except ValueError as exc:
                problems.append(_BAD_DB if name == "db" else f"URL option {shown} {exc}")
                break
    return problems


def is_host(host: str) -> bool:
    """A name the resolver takes (IDNA encoding fails past 63 characters a label) or an IP."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return len(host) <= 253 and _HOST.fullmatch(host.lower()) is not None
    return True


def check_sentinel(address: str) -> str:
    """A Sentinel address as "host:port"; ValueError when it is not one."""
    host, sep, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    valid_port = port.isascii() and port.isdigit() and 0 < int(port) < 65536
    if not sep or not host or not valid_port or not is_host(host):
        raise ValueError(f"bad sentinel address {address!r}: write host:port, e.g. 10.0.0.5:26379")
    return address
