"""One server entry of an Enkrypt config (``mcp_configs[].mcp_config[]``) -> ServerSpec."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..models import RemoteTarget, ServerSpec, StdioTarget, ToolPolicy, Transport
from .enkrypt_keys import DENY_ENTRY_KEYS, SERVER_KEYS, TARGET_KEYS, check_keys
from .enkrypt_schema import EnkryptServer, RemoteConfig, StdioConfig
from .oauth import oauth_from_enkrypt
from .problems import KeyPath, Problems, validate
from .sections import Settings, check_glob
from .targets import (
    BOTH_TARGETS,
    NO_TARGET,
    check_remote_url,
    header_problems,
    remote_target,
    stdio_problems,
    stdio_target,
)
from .tooldefs import normalize_tools

_TRANSPORTS = {
    "streamable_http": Transport.STREAMABLE_HTTP,
    "streamable-http": Transport.STREAMABLE_HTTP,
    "http": Transport.STREAMABLE_HTTP,
    "sse": Transport.SSE,
}


@dataclass(frozen=True, slots=True)
class ServerContext:
    """What every server of one gateway is read with."""

    settings: Settings
    tool_defaults: ToolPolicy
    base_dir: Path
    problems: Problems
    warnings: Problems


def read_server(raw: object, path: KeyPath, where: ServerContext) -> ServerSpec | None:
    """One ``mcp_config`` entry as a ServerSpec, or None after adding its problems."""
    problems = where.problems
    check_keys(raw, SERVER_KEYS, path, where.warnings, closed=True)
    server = validate(EnkryptServer, raw, path, problems)
    if server is None:
        return None
    check_keys(server.config, TARGET_KEYS, (*path, "config"), where.warnings, closed=True)
    tools = normalize_tools(server.tools, (*path, "tools"), problems)
    denied = _denied_tools(server.denied_tools, (*path, "denied_tools"), where)
    target = _target(server.config, (*path, "config"), where.base_dir, problems)
    if target is None:
        return None
    if isinstance(raw, dict) and raw.get("oauth_config") is not None:
        oauth_path = (*path, "oauth_config")
        oauth = oauth_from_enkrypt(raw["oauth_config"], oauth_path, where.base_dir, problems)
        if oauth is not None and isinstance(target, RemoteTarget):
            target = dataclasses.replace(target, oauth=oauth)
        elif oauth is not None:
            where.warnings.add(oauth_path, "oauth_config applies to remote servers (url) only")
    defaults = where.tool_defaults
    extra = [p for p, _ in denied if p not in defaults.denied_tools]
    reasons = tuple((p, reason) for p, reason in denied if reason)
    return ServerSpec(
        name=server.server_name,
        target=target,
        description=server.description,
        tools=tools,
        timeout=where.settings.discovery.default_timeout,
        watch=where.settings.daemon.watch,
        server_policy=where.settings.server_policy,
        tool_policy=dataclasses.replace(
            defaults,
            denied_tools=(*defaults.denied_tools, *extra),
            deny_reasons=(*defaults.deny_reasons, *reasons),
        ),
    )


def _denied_tools(
    raw: list[Any], path: KeyPath, where: ServerContext
) -> list[tuple[str, str | None]]:
    """(glob, its own reason), written as strings or as ``{"pattern": ..., "reason": ...}``."""
    patterns: list[tuple[str, str | None]] = []
    for index, item in enumerate(raw):
        pattern, reason = (
            (item.get("pattern"), item.get("reason")) if isinstance(item, dict) else (item, None)
        )
        if isinstance(item, dict):
            check_keys(item, DENY_ENTRY_KEYS, (*path, index), where.warnings, closed=True)
        if not isinstance(pattern, str):
            where.problems.add((*path, index), 'a denied tool is a glob or {"pattern": "..."}')
            continue
        if reason is not None and not isinstance(reason, str):
            where.problems.add((*path, index, "reason"), "a reason is a string")
            continue
        try:
            patterns.append((check_glob(pattern), reason.strip() if reason else None))
        except ValueError as exc:
            where.problems.add((*path, index), str(exc))
    return patterns


def _target(
    config: dict[str, Any], path: KeyPath, base_dir: Path, problems: Problems
) -> StdioTarget | RemoteTarget | None:
    if "command" in config and "url" in config:
        problems.add(path, BOTH_TARGETS)
        return None
    if "command" in config:
        stdio = validate(StdioConfig, config, path, problems)
        if stdio is None:
            return None
        env = stdio.env or {}
        for where, message in stdio_problems(stdio.command, stdio.args, env, stdio.cwd):
            problems.add((*path, *where), message)
        return stdio_target(stdio.command, stdio.args, stdio.env or {}, stdio.cwd, base_dir)
    if "url" not in config:
        problems.add(path, NO_TARGET)
        return None
    remote = validate(RemoteConfig, config, path, problems)
    if remote is None:
        return None
    reason = check_remote_url(remote.url)
    if reason:
        problems.add((*path, "url"), reason)
    for name, message in header_problems(remote.headers or {}):
        problems.add((*path, "headers", name), message)
    transport = _transport(remote, path, problems)
    if transport is None:
        return None
    return remote_target(remote.url, transport, remote.headers or {})


def _transport(remote: RemoteConfig, path: KeyPath, problems: Problems) -> Transport | None:
    """``transport`` ("streamable_http" | "sse") or ``type`` ("http" | "sse"); both must agree."""
    chosen: set[Transport] = set()
    for key in ("transport", "type"):
        value = getattr(remote, key)
        if value is None:
            continue
        transport = _TRANSPORTS.get(value.lower())
        if transport is None:
            problems.add((*path, key), f"unknown {key} {value!r}: use streamable_http or sse")
            return None
        chosen.add(transport)
    if len(chosen) > 1:
        problems.add((*path, "transport"), "transport and type disagree")
        return None
    return chosen.pop() if chosen else Transport.STREAMABLE_HTTP
