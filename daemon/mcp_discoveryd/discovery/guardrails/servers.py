"""Server guardrails: is this server spec safe to connect to or spawn at all?

``check_server`` returns every violation it finds (empty means allowed), each a
short sentence naming what is wrong and why. Env values, header values, argument
values and URLs may hold secrets, so a violation names their position, never
their content.

Command patterns are ``fnmatch`` globs on the command's basename, matched as tool
names are (``names``): folded first, deny patterns case-insensitively and on the
skeleton too, allow patterns exactly; both lean toward blocking. Argument positions in messages count from 1.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import PurePath
from urllib.parse import SplitResult, urlsplit

from ...models import RemoteTarget, ServerPolicy, ServerSpec, StdioTarget
from .credentials import arg_secrets, url_secrets
from .names import allowed_by, denied_by
from .shell import suspicious_command, suspicious_env

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_URL_JUNK = re.compile(r"[\x00-\x20\x7f]")
_LOOPBACK_NAMES = frozenset({"localhost", "localhost."})


def check_server(spec: ServerSpec) -> tuple[str, ...]:
    """Every server-guardrail violation of ``spec`` under ``spec.server_policy``."""
    found: list[str] = []
    if not spec.name.strip():
        found.append("server name is empty")
    target = spec.target
    if isinstance(target, StdioTarget):
        found.extend(_check_stdio(target, spec.server_policy))
    else:
        found.extend(_check_remote(target, spec.server_policy))
    return tuple(dict.fromkeys(found))


def _check_stdio(target: StdioTarget, policy: ServerPolicy) -> list[str]:
    found: list[str] = []
    if not target.command.strip():
        found.append("command is empty")
    elif "\0" in target.command:
        found.append("command contains a NUL character")
    else:
        found.extend(_command_policy(PurePath(target.command).name, policy))
    found.extend(
        f"argument {i} contains a NUL character"
        for i, arg in enumerate(target.args, 1)
        if "\0" in arg
    )
    env = {name: value.reveal() for name, value in target.env.items()}  # inspected, never shown
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:
            found.append(f"environment variable name {_shown(name)} is invalid")
        elif "\0" in value:
            found.append(f"environment variable '{name}' value contains a NUL character")
    if policy.block_suspicious_args:
        found.extend(suspicious_command(target.command, target.args))
        found.extend(suspicious_env(env))
    if policy.block_secrets_in_args:
        found.extend(
            f"argument {i + 1} looks like a secret ({what}); pass it through env instead"
            for i, what in arg_secrets(target.args)
        )
    return found


def _command_policy(basename: str, policy: ServerPolicy) -> list[str]:
    found = [
        f"command {_shown(basename)} denied by pattern '{pattern}'"
        for pattern in denied_by(basename, policy.denied_commands)
    ]
    if policy.allowed_commands and not allowed_by(basename, policy.allowed_commands):
        found.append(f"command {_shown(basename)} not matched by any allowed pattern")
    return found


def _check_remote(target: RemoteTarget, policy: ServerPolicy) -> list[str]:
    found = _check_headers(target)
    url = _parse_url(target.url.reveal(), found)
    if url is None:
        return found
    host = url.hostname or ""
    if url.scheme.lower() == "http" and not policy.allow_plain_http and not _is_loopback(host):
        found.append(f"plain http:// to non-loopback host {_shown(host)}; use https")
    if policy.block_secrets_in_args:
        found.extend(url_secrets(url))
    return found


def _parse_url(raw: str, found: list[str]) -> SplitResult | None:
    """The URL split into parts, or None after noting why it is unusable (never echoing it)."""
    if not raw.strip():
        found.append("URL is empty")
        return None
    if _URL_JUNK.search(raw):
        found.append("URL contains whitespace or control characters")
        return None
    try:
        url = urlsplit(raw)
        url.port  # noqa: B018 -- parses the port; raises ValueError when it is not a number
    except ValueError:
        found.append("URL does not parse (bad host or port)")
        return None
    if url.scheme.lower() not in ("http", "https"):
        scheme = f"scheme {_shown(url.scheme)}" if url.scheme else "no scheme"
        found.append(f"URL has {scheme}; only http and https are allowed")
        return None
    if not url.hostname:
        found.append("URL has no host")
        return None
    return url


def _check_headers(target: RemoteTarget) -> list[str]:
    found: list[str] = []
    for name, value in target.headers.items():
        if not _HEADER_NAME.fullmatch(name):
            found.append(f"header name {_shown(name)} is invalid")
        elif any(c in value.reveal() for c in "\r\n\0"):
            found.append(f"header '{name}' value contains a line break or NUL character")
    return found


def _is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _shown(text: str) -> str:
    """A name from config, quoted, shortened and made printable for a message."""
    short = text[:60] + ("..." if len(text) > 60 else "")
    return repr(short)
