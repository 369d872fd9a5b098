"""Upstream targets built and checked the same way for both config formats."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from urllib.parse import urlsplit

from ..models import DEFAULT_INHERIT_ENV, RemoteTarget, StdioTarget, Transport
from ..secret import Secret, SecretUrl, looks_like_credential, looks_like_token
from .problems import KeyPath, Problems

BOTH_TARGETS = "give either command (stdio) or url (remote), not both"
NO_TARGET = "missing command or url: a server needs command (stdio) or url (remote)"

# RFC 9110 (was 7230) token; values: visible ASCII with inner spaces or tabs. The HTTP
# client encodes header values as ASCII, so anything else would fail at request time.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?")
MAX_HEADER_BYTES = 8 * 1024  # a header past this is refused by most servers anyway


def stdio_target(
    command: str,
    args: Sequence[str],
    env: Mapping[str, str],
    cwd: str | None,
    base_dir: Path,
    inherit_env: Sequence[str] = DEFAULT_INHERIT_ENV,
    withheld_env: frozenset[str] = frozenset(),
    expanded: AbstractSet[str] = frozenset(),
) -> StdioTarget:
    """A stdio target; a relative ``cwd`` is taken from the config file's directory.

    So a bundled config runs bundled servers from any working directory. Relative
    paths inside ``args`` are left alone: they are relative to ``cwd`` at spawn time.
    """
    resolved = None if cwd is None else os.path.normpath(base_dir / cwd)
    return StdioTarget(
        command=command,
        args=tuple(args),
        env={name: secret(name, value, expanded) for name, value in env.items()},
        cwd=resolved,
        inherit_env=tuple(dict.fromkeys(inherit_env)),
        withheld_env=withheld_env,
    )


def remote_target(
    url: str,
    transport: Transport = Transport.STREAMABLE_HTTP,
    headers: Mapping[str, str] | None = None,
    expanded: AbstractSet[str] = frozenset(),
) -> RemoteTarget:
    """A remote target: the URL's credentials and every header value held as secrets."""
    secret_headers = {
        name: secret(name, value, expanded) for name, value in (headers or {}).items()
    }
    return RemoteTarget(SecretUrl(url), transport, secret_headers)


def secret(name: str, value: str, expanded: AbstractSet[str] = frozenset()) -> Secret:
    """An env or header value as a Secret; a credential when its name, its shape or a
    ``${VAR}`` expansion into it says so (upstream text is scrubbed of credentials).
    """
    credential = (
        looks_like_credential(name)
        or looks_like_token(value)
        or any(part and part in value for part in expanded)
    )
    return Secret(value, credential=credential)


def check_inherit_env(
    patterns: Sequence[str], withheld: frozenset[str], path: KeyPath, problems: Problems
) -> None:
    """A name listed for children to inherit must not be a secret: those go through env.

    Globs are not reported (``LC_*`` is fine); the spawn skips the secrets they match.
    """
    for index, name in enumerate(patterns):
        if any(c in name for c in "*?["):
            continue
        if name in withheld:
            problems.add(
                (*path, index), f"{name} holds the daemon's own secret; children never inherit it"
            )
        elif looks_like_credential(name):
            problems.add(
                (*path, index),
                f"{name} looks like a credential: give it to the server through its env "
                f'(env = {{ {name} = "${{{name}}}" }}), not by inheritance',
            )


def check_remote_url(url: str) -> str | None:
    """Why ``url`` cannot reach an MCP server, or None; never echoes the URL (it may hold a key)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- evaluated for its ValueError on a bad port
    except ValueError:
        return "not a valid URL (check the port and any [IPv6] brackets)"
    if parts.scheme not in ("http", "https"):
        return "url must start with http:// or https://"
    if not parts.hostname:
        return "url has no host"
    return None


def header_problems(headers: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """(header name, what is wrong) for each header a request could not carry.

    Never echoes a value: header values are secrets.
    """
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            yield name, "not a header name: use letters, digits and !#$%&'*+.^_`|~-"
        elif not _FIELD_VALUE.fullmatch(value):
            yield (
                name,
                (
                    "header value must be visible ASCII (inner spaces allowed; no line breaks,"
                    " no leading or trailing blanks, no other characters: percent- or"
                    " base64-encode them)"
                ),
            )
        elif len(name) + len(value) > MAX_HEADER_BYTES:
            yield name, f"header longer than {MAX_HEADER_BYTES} bytes"


def stdio_problems(
    command: str, args: Sequence[str], env: Mapping[str, str], cwd: str | None
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(key path below the server, what is wrong) for what a process cannot be started with."""
    if "\0" in command:
        yield ("command",), "command contains a NUL character"
    for index, arg in enumerate(args):
        if "\0" in arg:
            yield ("args", index), "argument contains a NUL character"
    for name, value in env.items():
        if not name or "=" in name or "\0" in name:
            yield ("env", name), "not a variable name (empty, or has '=' or NUL)"
        elif "\0" in value:
            yield ("env", name), "value contains a NUL character"
    if cwd is not None and "\0" in cwd:
        yield ("cwd",), "cwd contains a NUL character"
