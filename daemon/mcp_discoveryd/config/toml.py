"""The daemon's own TOML format -> DaemonConfig, with every problem found reported at once.

Layout: top-level [discovery], [cache], [daemon], [guardrails.servers], [guardrails.tools], then
[gateways.<id>] (optional ``name``, ``cache_ids``) and [gateways.<id>.servers.<name>]
with ``command``/``args``/``env``/``cwd`` (stdio) or ``url``/``transport``/``headers``
(remote), ``description``, ``timeout``, ``watch``, ``tools``, ``allowed_tools``, ``denied_tools``
and per-server [... .guardrails.servers] / [... .guardrails.tools] overrides.

Each table is validated on its own, so one broken server never hides the problems
of another.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from ..models import RemoteTarget, ServerSpec, StdioTarget, Transport
from .envref import expand_tree, referenced_names
from .limits import check_shape, parse_bounded
from .oauth import oauth_from_toml
from .problems import KeyPath, Problems, validate
from .secrets import collect_secrets
from .sections import (
    Glob,
    GuardrailOverrides,
    PositiveDuration,
    Section,
    Settings,
    read_sections,
    server_policy,
    tool_policy,
)
from .settings import DaemonConfig, GatewayConfig
from .targets import (
    BOTH_TARGETS,
    NO_TARGET,
    check_inherit_env,
    check_remote_url,
    header_problems,
    remote_target,
    stdio_problems,
    stdio_target,
)
from .tooldefs import normalize_tools

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_NAME_RULE = "use letters, digits, '_', '.' and '-' (at most 128, not starting with '.' or '-')"
_SYNTAX = re.compile(r"(?P<msg>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)", re.DOTALL)
_STDIO_KEYS = ("args", "env", "cwd", "inherit_env")
_OWN_SECTIONS = ("discovery", "cache", "daemon", "control", "guardrails", "telemetry")
_REMOTE_KEYS = ("transport", "headers", "oauth")


class Root(Section):
    """The top level; its sections are validated one by one."""

    discovery: Any = None
    cache: Any = None
    control: Any = None
    daemon: Any = None
    guardrails: Any = None
    telemetry: Any = None
    gateways: dict[str, Any] = Field(default_factory=dict)


class GatewayTable(Section):
    """[gateways.<id>]"""

    name: str = ""
    cache_ids: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    servers: dict[str, Any] = Field(default_factory=dict)


class ServerTable(Section):
    """[gateways.<id>.servers.<name>]"""

    description: str = ""
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    transport: Literal["streamable-http", "sse"] = "streamable-http"
    headers: dict[str, str] = Field(default_factory=dict)
    inherit_env: list[str] = Field(default_factory=list)  # added to [discovery] inherit_env
    timeout: PositiveDuration | None = None
    tools: Any = None  # checked by tooldefs: a table of name -> description/definition, or a list
    allowed_tools: list[Glob] | None = None
    denied_tools: list[Glob] = Field(default_factory=list)
    guardrails: GuardrailOverrides | None = None
    watch: Literal["auto", "on", "off"] | None = None  # None: [daemon] watch
    oauth: Any = None  # checked by config/oauth.py: the server's OAuth client


@dataclass(frozen=True, slots=True)
class _Context:
    """What every server of the file inherits."""

    settings: Settings
    base_dir: Path  # relative cwd is resolved against the config file's directory
    withheld_env: frozenset[str]  # variables the daemon's own sections use: never inherited
    expanded: frozenset[str]  # values ${VAR} references brought in: credentials wherever they land


def load_toml(text: str, path: str, env: Mapping[str, str]) -> DaemonConfig:
    """Parse and validate a TOML config; ConfigError lists every problem found."""
    problems = Problems()
    try:
        raw = parse_bounded(tomllib.loads, text, "TOML", problems)
    except tomllib.TOMLDecodeError as exc:
        match = _SYNTAX.fullmatch(str(exc))
        if match:
            location = f"line {match['line']}, column {match['col']}"
            problems.add_at(location, "TOML syntax error: " + match["msg"])
        else:
            problems.add_at("end of file", f"TOML syntax error: {exc}")
        raise problems.error(path) from None
    if raw is None or not check_shape(raw, problems):
        raise problems.error(path)
    substituted: set[str] = set()
    doc = expand_tree(raw, env, (), problems, substituted, skip={"tools"})
    secrets = collect_secrets(doc) | substituted  # masked in problem messages only

    validate(Root, doc, (), problems)
    settings = read_sections(doc, (), problems, env=env)
    withheld = referenced_names([raw.get(section) for section in _OWN_SECTIONS])
    check_inherit_env(
        settings.discovery.inherit_env, withheld, ("discovery", "inherit_env"), problems
    )
    context = _Context(settings, Path(path).absolute().parent, withheld, frozenset(substituted))
    gateways = _gateways(doc.get("gateways"), context, problems)
    problems.raise_if_any(path, secrets)
    return DaemonConfig(
        path=path,
        format="toml",
        gateways=gateways,
        discovery=settings.discovery,
        cache=settings.cache,
        control=settings.control,
        daemon=settings.daemon,
        telemetry=settings.telemetry,
        guardrail_provider=settings.guardrail_provider,
    )


def _gateways(raw: object, context: _Context, problems: Problems) -> tuple[GatewayConfig, ...]:
    if raw is None or raw == {}:
        problems.add(("gateways",), "no gateways: add at least one [gateways.<id>] table")
        return ()
    if not isinstance(raw, dict):
        return ()  # already reported by Root
    gateways: list[GatewayConfig] = []
    for gateway_id, table in raw.items():
        path: KeyPath = ("gateways", gateway_id)
        if not NAME.fullmatch(gateway_id):
            problems.add(path, f"bad gateway id: {_NAME_RULE}")
        gateway = validate(GatewayTable, table, path, problems)
        raw_servers = table.get("servers") if isinstance(table, dict) else None
        servers = []
        if isinstance(raw_servers, dict):
            for name, server_table in raw_servers.items():
                spec = _server(name, server_table, (*path, "servers", name), context, problems)
                if spec is not None:
                    servers.append(spec)
        if gateway is not None:
            gateways.append(
                GatewayConfig(
                    id=gateway_id,
                    servers=tuple(servers),
                    name=gateway.name,
                    cache_ids=tuple(dict.fromkeys(gateway.cache_ids)),
                )
            )
    return tuple(gateways)


def _server(
    name: str, raw: object, path: KeyPath, context: _Context, problems: Problems
) -> ServerSpec | None:
    if not NAME.fullmatch(name):
        problems.add(path, f"bad server name: {_NAME_RULE}")
    table = validate(ServerTable, raw, path, problems)
    raw_tools = raw.get("tools") if isinstance(raw, dict) else None
    tools = normalize_tools(raw_tools, (*path, "tools"), problems)
    if table is None:
        return None
    target = _target(table, path, context, problems)
    if target is None:
        return None
    override = table.guardrails
    defaults = context.settings
    return ServerSpec(
        name=name,
        target=target,
        description=table.description,
        tools=tools,
        timeout=table.timeout if table.timeout is not None else defaults.discovery.default_timeout,
        watch=table.watch or defaults.daemon.watch,
        server_policy=server_policy(defaults.server_policy, override and override.servers),
        tool_policy=tool_policy(
            defaults.tool_policy,
            override and override.tools,
            table.allowed_tools,
            table.denied_tools,
        ),
    )


def _target(
    table: ServerTable, path: KeyPath, context: _Context, problems: Problems
) -> StdioTarget | RemoteTarget | None:
    """The server's target; keys of the other transport are problems, not ignored."""
    if table.command is not None and table.url is not None:
        problems.add(path, BOTH_TARGETS)
        return None
    if table.command is not None:
        _misplaced(table, _REMOTE_KEYS, "remote servers (url), not to command", path, problems)
        if not table.command.strip():
            problems.add((*path, "command"), "command is empty")
        for where, message in stdio_problems(table.command, table.args, table.env, table.cwd):
            problems.add((*path, *where), message)
        check_inherit_env(table.inherit_env, context.withheld_env, (*path, "inherit_env"), problems)
        return stdio_target(
            table.command,
            table.args,
            table.env,
            table.cwd,
            context.base_dir,
            inherit_env=(*context.settings.discovery.inherit_env, *table.inherit_env),
            withheld_env=context.withheld_env,
            expanded=context.expanded,
        )
    if table.url is not None:
        _misplaced(table, _STDIO_KEYS, "stdio servers (command), not to url", path, problems)
        reason = check_remote_url(table.url)
        if reason:
            problems.add((*path, "url"), reason)
        for name, message in header_problems(table.headers):
            problems.add((*path, "headers", name), message)
        transport = Transport(table.transport)
        target = remote_target(table.url, transport, table.headers, context.expanded)
        if table.oauth is None:
            return target
        oauth = oauth_from_toml(table.oauth, (*path, "oauth"), context.base_dir, problems)
        return target if oauth is None else replace(target, oauth=oauth)
    problems.add(path, NO_TARGET)
    return None


def _misplaced(
    table: ServerTable, keys: tuple[str, ...], applies_to: str, path: KeyPath, problems: Problems
) -> None:
    for key in keys:
        if key in table.model_fields_set:
            problems.add((*path, key), f"{key} applies to {applies_to}")
