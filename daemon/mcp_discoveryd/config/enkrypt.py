"""Secure MCP Gateway's ``enkrypt_mcp_config.json``, read as it is, -> DaemonConfig.

Every ``mcp_configs`` entry becomes a gateway (id = config id, name = mcp_config_name)
whose cache ids come from ``apikeys`` -> ``projects``; ``common_mcp_gateway_config``
gives the TTLs, the discovery timeout and the external cache. Keys this daemon does
not use are ignored, as the gateway itself ignores them. An optional top-level
``mcp_discoveryd`` object holds this daemon's own [discovery], [cache] and [guardrails]
sections (the TOML format's keys), applied on top of what the Enkrypt keys imply.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..models import ServerSpec, StdioTarget, ToolPolicy
from ..secret import Secret, SecretUrl
from .enkrypt_keys import (
    MCP_CONFIG_KEYS,
    check_document,
    check_keys,
)
from .enkrypt_schema import (
    ApiKeyEntry,
    CommonConfig,
    CommonOverrides,
    McpConfigEntry,
    OwnSection,
    ProjectEntry,
)
from .enkrypt_servers import ServerContext, read_server
from .envref import expand_tree, referenced_names
from .limits import check_shape, parse_bounded
from .problems import KeyPath, Problems, validate
from .secrets import collect_secrets
from .sections import Settings, read_sections
from .settings import HOUR, CacheSettings, DaemonConfig, DiscoverySettings, GatewayConfig
from .targets import (
    check_inherit_env,
)

OWN_SECTION = "mcp_discoveryd"


def load_enkrypt(text: str, path: str, env: Mapping[str, str]) -> DaemonConfig:
    """Parse and validate an Enkrypt config; ConfigError lists every problem found."""
    problems = Problems()
    try:
        raw = parse_bounded(_parse_json, text, "JSON", problems)
    except json.JSONDecodeError as exc:
        problems.add_at(f"line {exc.lineno}, column {exc.colno}", f"JSON syntax error: {exc.msg}")
        raise problems.error(path) from None
    if raw is None or not check_shape(raw, problems, by_position=("apikeys",)):
        raise problems.error(path)  # every place named is a key path, never a value
    secrets = collect_secrets(raw)
    if not isinstance(raw, dict):
        problems.add((), "an Enkrypt config is a JSON object")
        raise problems.error(path, secrets)
    apikeys = raw.get("apikeys")
    if isinstance(apikeys, dict):
        secrets.update(apikeys)  # the keys of this object are the secrets
    _report_duplicates(raw, (), problems)
    warnings = Problems()  # unknown keys: reported, never fatal (errors under --strict)
    check_document(raw, warnings)

    common = (
        validate(
            CommonConfig,
            raw.get("common_mcp_gateway_config") or {},
            ("common_mcp_gateway_config",),
            problems,
        )
        or CommonConfig()
    )
    own = expand_tree(raw.get(OWN_SECTION) or {}, env, (OWN_SECTION,), problems, secrets)
    validate(OwnSection, own, (OWN_SECTION,), problems)
    settings = read_sections(
        own if isinstance(own, dict) else {},
        (OWN_SECTION,),
        problems,
        discovery_base=_discovery_base(common),
        cache_base=_cache_base(common),
        env=env,
    )
    configs = raw.get("mcp_configs")
    if not isinstance(configs, dict) or not configs:
        problems.add(("mcp_configs",), "no gateways: mcp_configs must be a non-empty object")
        configs = {}
    cache_ids = _cache_ids(raw, set(configs), problems)
    base_dir = Path(path).absolute().parent  # a relative cwd is taken from here, as in TOML
    gateways = tuple(
        gateway
        for config_id, entry in configs.items()
        if (
            gateway := _gateway(config_id, entry, cache_ids, settings, base_dir, problems, warnings)
        )
    )
    withheld = referenced_names(own)
    inherit = settings.discovery.inherit_env
    check_inherit_env(inherit, withheld, (OWN_SECTION, "discovery", "inherit_env"), problems)
    gateways = tuple(_inheriting(gateway, inherit, withheld) for gateway in gateways)
    secrets.update(collect_secrets(own))
    problems.raise_if_any(path, secrets)
    return DaemonConfig(
        path=path,
        format="enkrypt",
        gateways=gateways,
        discovery=settings.discovery,
        cache=settings.cache,
        control=settings.control,
        daemon=settings.daemon,
        telemetry=settings.telemetry,
        guardrail_provider=settings.guardrail_provider,
        warnings=tuple(warnings.items),
    )


def _inheriting(
    gateway: GatewayConfig, inherit_env: tuple[str, ...], withheld_env: frozenset[str]
) -> GatewayConfig:
    """The gateway with its stdio servers inheriting what [discovery] inherit_env names."""
    servers = tuple(
        dataclasses.replace(
            spec,
            target=dataclasses.replace(
                spec.target, inherit_env=inherit_env, withheld_env=withheld_env
            ),
        )
        if isinstance(spec.target, StdioTarget)
        else spec
        for spec in gateway.servers
    )
    return dataclasses.replace(gateway, servers=servers)


def _discovery_base(common: CommonConfig) -> DiscoverySettings:
    timeouts = common.timeout_settings
    timeout = timeouts.discovery_timeout or timeouts.default_timeout
    return DiscoverySettings(default_timeout=timeout) if timeout else DiscoverySettings()


def _cache_base(common: CommonConfig) -> CacheSettings:
    tool_ttl = _ttl(
        common.enkrypt_tool_cache_expiration_minutes, common.enkrypt_tool_cache_expiration
    )
    config_ttl = _ttl(
        common.enkrypt_gateway_cache_expiration_minutes, common.enkrypt_gateway_cache_expiration
    )
    settings = CacheSettings(
        tool_ttl=tool_ttl, config_ttl=config_ttl, min_ttl=min(CacheSettings().min_ttl, tool_ttl)
    )
    if not common.enkrypt_mcp_use_external_cache:
        return settings
    host = common.enkrypt_cache_host
    host = f"[{host}]" if ":" in host else host  # an IPv6 address
    return dataclasses.replace(
        settings,
        backend="redis",
        url=SecretUrl(f"redis://{host}:{common.enkrypt_cache_port}/{common.enkrypt_cache_db}"),
        password=Secret(password) if (password := common.enkrypt_cache_password) else None,
    )


def _ttl(minutes: float | None, hours: float) -> float:
    return minutes * 60.0 if minutes is not None else hours * HOUR


def _cache_ids(
    raw: Mapping[str, Any], config_ids: set[str], problems: Problems
) -> dict[str, set[str]]:
    """Config id -> the ids its cache entries are stored under: user_project_config."""
    projects: dict[str, ProjectEntry] = {}
    raw_projects = raw.get("projects") or {}
    for project_id, entry in raw_projects.items() if isinstance(raw_projects, dict) else ():
        project = validate(ProjectEntry, entry, ("projects", project_id), problems)
        if project is None:
            continue
        projects[project_id] = project
        if project.mcp_config_id not in config_ids:
            problems.add(
                ("projects", project_id, "mcp_config_id"),
                f"unknown mcp_config {project.mcp_config_id!r}",
            )
    found: dict[str, set[str]] = {}
    raw_keys = raw.get("apikeys") or {}
    # An API key is a secret: its entry is named by position, never by the key.
    for index, entry in enumerate(raw_keys.values() if isinstance(raw_keys, dict) else ()):
        path: KeyPath = ("apikeys", index)
        apikey = validate(ApiKeyEntry, entry, path, problems)
        if apikey is None:
            continue
        project = projects.get(apikey.project_id)
        if project is None:
            # A project that failed validation has its own problem; one missing is the key's.
            if not isinstance(raw_projects, dict) or apikey.project_id not in raw_projects:
                problems.add((*path, "project_id"), f"unknown project {apikey.project_id!r}")
            continue
        cache_id = f"{apikey.user_id}_{apikey.project_id}_{project.mcp_config_id}"
        found.setdefault(project.mcp_config_id, set()).add(cache_id)
    return found


def _gateway(
    config_id: str,
    raw: object,
    cache_ids: Mapping[str, set[str]],
    settings: Settings,
    base_dir: Path,
    problems: Problems,
    warnings: Problems,
) -> GatewayConfig | None:
    path: KeyPath = ("mcp_configs", config_id)
    check_keys(raw, MCP_CONFIG_KEYS, path, warnings, closed=True)
    entry = validate(McpConfigEntry, raw, path, problems)
    if entry is None:
        return None
    tool_defaults = _tool_defaults(settings.tool_policy, entry.common_overrides)
    servers: list[ServerSpec] = []
    first_index: dict[str, int] = {}
    for index, raw_server in enumerate(entry.mcp_config):
        server_path: KeyPath = (*path, "mcp_config", index)
        name = raw_server.get("server_name") if isinstance(raw_server, dict) else None
        if isinstance(name, str) and name in first_index:
            problems.add(
                (*server_path, "server_name"),
                f"duplicate server name {name!r} (first at mcp_config[{first_index[name]}])",
            )
        if isinstance(name, str):  # any other type is reported by the server's own model
            first_index.setdefault(name, index)
        context = ServerContext(settings, tool_defaults, base_dir, problems, warnings)
        spec = read_server(raw_server, server_path, context)
        if spec is not None:
            servers.append(spec)
    return GatewayConfig(
        id=config_id,
        servers=tuple(servers),
        name=entry.mcp_config_name,
        cache_ids=tuple(sorted(cache_ids.get(config_id, ()))),
    )


def _tool_defaults(base: ToolPolicy, overrides: CommonOverrides | None) -> ToolPolicy:
    """Its server-tools guardrail switch: enabled with a block list blocks, enabled without reports.

    Disabled (or absent) leaves the daemon's own tool guardrails as configured: that switch
    governs the gateway's remote guardrail service, which this daemon does not call.
    """
    switch = overrides.server_tools_guardrails_config if overrides else None
    if switch is None or not switch.enabled:
        return base
    return dataclasses.replace(base, poisoning="block" if switch.block else "report")


def _parse_json(text: str) -> Any:
    return json.loads(text, object_pairs_hook=_KeyedDict.from_pairs)


class _KeyedDict(dict[str, Any]):
    """A JSON object that remembers keys written twice (json keeps the last silently)."""

    duplicates: tuple[str, ...] = ()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, Any]]) -> _KeyedDict:
        made = cls(pairs)
        if len(made) != len(pairs):
            counts = Counter(key for key, _ in pairs)
            made.duplicates = tuple(key for key, count in counts.items() if count > 1)
        return made


def _report_duplicates(node: object, path: KeyPath, problems: Problems) -> None:
    """Keys written twice, anywhere; under ``apikeys`` named by position, never by the key."""
    masked = path == ("apikeys",)
    if isinstance(node, _KeyedDict):
        for key in node.duplicates:
            problems.add(
                path if masked else (*path, key), "key written twice (only the last counts)"
            )
        for index, (key, value) in enumerate(node.items()):
            _report_duplicates(value, (*path, index if masked else key), problems)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _report_duplicates(value, (*path, index), problems)
