"""The daemon's own settings sections: [discovery], [cache], [daemon], [guardrails].

[discovery] and [cache] are read straight into ``DiscoverySettings`` and
``CacheSettings`` (``model.py``: declared once). The [guardrails] tables are read here
and applied to the ``ServerPolicy``/``ToolPolicy`` values of ``models.py``. The same
reading serves the TOML file's top-level tables and the ``mcp_discoveryd`` object an
Enkrypt config may carry. Only keys actually written are applied on top of a base
(the defaults, or what an Enkrypt config implies), so a section never resets a
setting it does not mention.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from ..models import ServerPolicy, ToolPolicy
from .fields import Duration, Glob, PositiveDuration, Sentinel, Size, check_glob
from .problems import KeyPath, Problems, file_key, validate
from .redis_url import check_redis_url
from .settings import (
    CacheSettings,
    ControlSettings,
    DaemonSettings,
    DiscoverySettings,
    GuardrailProviderSettings,
    TelemetrySettings,
)
from .token_key import token_sharing_problems

__all__ = [
    "Duration",
    "Glob",
    "PositiveDuration",
    "Section",
    "Sentinel",
    "Settings",
    "Size",
    "check_glob",
    "read_sections",
]

T = TypeVar("T")

_SP, _TP = ServerPolicy(), ToolPolicy()
# How the redis backend connects: dropped when a section chooses memory over a base's Redis.
_CONNECTION = ("url", "password", "cluster", "sentinels", "sentinel_username", "sentinel_password")


class Section(BaseModel):
    """A table of the daemon's own format: typed strictly, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ServerGuardrails(Section):
    """[guardrails.servers], and a server's own [... .guardrails.servers]"""

    allowed_commands: list[Glob] = []
    denied_commands: list[Glob] = []
    allow_plain_http: bool = _SP.allow_plain_http
    block_suspicious_args: bool = _SP.block_suspicious_args
    block_secrets_in_args: bool = _SP.block_secrets_in_args


class ToolGuardrailOverrides(Section):
    """A server's own [... .guardrails.tools] (its name lists are the server's own keys)."""

    block_destructive: bool = _TP.block_destructive
    block_open_world: bool = _TP.block_open_world
    poisoning: Literal["block", "report", "off"] = _TP.poisoning
    on_tool_change: Literal["report", "block"] = _TP.on_tool_change


class ToolGuardrails(ToolGuardrailOverrides):
    """[guardrails.tools]"""

    allowed_tools: list[Glob] = []
    denied_tools: list[Glob] = []


class GuardrailsSection(Section):
    """[guardrails]: the defaults of every server."""

    servers: ServerGuardrails = ServerGuardrails()
    tools: ToolGuardrails = ToolGuardrails()
    provider: dict[str, Any] | None = None  # read as GuardrailProviderSettings


class GuardrailOverrides(Section):
    """A server's [... .guardrails]: replaces the defaults key by key."""

    servers: ServerGuardrails = ServerGuardrails()
    tools: ToolGuardrailOverrides = ToolGuardrailOverrides()


def overlay(base: T, section: BaseModel) -> T:
    """``base`` (a frozen policy dataclass) with the keys written in ``section`` applied."""
    changes: dict[str, Any] = {}
    for key in section.model_fields_set:
        value = getattr(section, key)
        changes[key] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]  # T is a dataclass


def written_in(
    section: Any, raw: Mapping[str, Any], path: KeyPath, problems: Problems
) -> dict[str, Any]:
    """Attribute -> value of the keys a file's table wrote (``section`` validated from ``raw``),
    less those found wrong (their defaults stand in for them)."""
    fields: Mapping[str, Any] = section.__pydantic_fields__
    written: dict[str, Any] = {}
    for name, info in fields.items():
        key = file_key(name, info)
        if key in raw and not problems.reported((*path, key)):
            written[name] = getattr(section, name)
    return written


def cache_settings(written: Mapping[str, Any], base: CacheSettings) -> CacheSettings:
    """The [cache] keys written applied on ``base``.

    Naming a url or sentinels without a backend means redis; choosing memory drops the
    Redis connection the base had (an Enkrypt external cache) unless written here too.
    """
    changes = dict(written)
    if "backend" not in written and written.keys() & {"url", "sentinels"}:
        changes["backend"] = "redis"
    if written.get("backend") == "memory":
        defaults = CacheSettings()
        changes |= {k: getattr(defaults, k) for k in _CONNECTION if k not in written}
    return dataclasses.replace(base, **changes)


def check_cache(settings: CacheSettings, path: KeyPath, problems: Problems) -> None:
    """Problems that only the combination of cache settings shows."""
    redis = settings.backend == "redis"
    if not redis and (settings.url or settings.sentinels or settings.cluster):
        problems.add((*path, "backend"), "url, sentinels or cluster are set but backend is memory")
    if redis and not settings.url and not settings.sentinels:
        problems.add((*path, "url"), "the redis backend needs url (or sentinels)")
    if (settings.sentinel_password or settings.sentinel_username) and not settings.sentinels:
        problems.add((*path, "sentinels"), "sentinel credentials are set but no sentinels")
    if settings.cluster and settings.sentinels:
        problems.add((*path, "cluster"), "choose Redis Cluster or Sentinel, not both")
    for key, message in token_sharing_problems(settings):
        problems.add((*path, key), message)
    url_problems = check_redis_url(settings.url.reveal()) if settings.url else []
    for message in url_problems:
        problems.add((*path, "url"), message)
    if settings.url and not url_problems:
        parts = urlsplit(settings.url.reveal())
        if settings.cluster and parts.scheme == "unix":
            problems.add((*path, "cluster"), "Redis Cluster cannot be reached over unix://")
        if settings.password and parts.password is not None:
            problems.add((*path, "password"), "a password is given both here and in url")
    if settings.enkrypt_compat and not redis:
        problems.add((*path, "enkrypt_compat"), "the Enkrypt-compatible writer needs Redis")
    if settings.min_ttl > settings.tool_ttl:
        problems.add((*path, "min_ttl"), "min_ttl is longer than tool_ttl")


def server_policy(defaults: ServerPolicy, override: ServerGuardrails | None) -> ServerPolicy:
    """A server's server-guardrail policy: the defaults with its own keys applied."""
    return defaults if override is None else overlay(defaults, override)


def tool_policy(
    defaults: ToolPolicy,
    override: ToolGuardrailOverrides | None,
    allowed_tools: list[str] | None,
    denied_tools: list[str],
) -> ToolPolicy:
    """A server's tool policy: its allow list replaces the default, its deny list adds to it."""
    policy = defaults if override is None else overlay(defaults, override)
    changes: dict[str, Any] = {}
    if allowed_tools is not None:
        changes["allowed_tools"] = tuple(allowed_tools)
    if denied_tools:
        extra = [p for p in denied_tools if p not in policy.denied_tools]
        changes["denied_tools"] = (*policy.denied_tools, *extra)
    return dataclasses.replace(policy, **changes) if changes else policy


@dataclass(frozen=True, slots=True)
class Settings:
    """What the daemon's own sections of one file say."""

    discovery: DiscoverySettings
    cache: CacheSettings
    server_policy: ServerPolicy  # the defaults of every server
    tool_policy: ToolPolicy
    control: ControlSettings = field(default_factory=ControlSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    guardrail_provider: GuardrailProviderSettings | None = None


def read_provider(
    raw: Mapping[str, Any] | None, path: KeyPath, problems: Problems
) -> GuardrailProviderSettings | None:
    """[guardrails.provider], checked: an http(s) URL without credentials (headers carry them)."""
    if raw is None:
        return None
    found: GuardrailProviderSettings | None = validate(
        GuardrailProviderSettings, raw, path, problems
    )
    if found is None:
        return None
    try:
        parts = urlsplit(found.url)
        has_password = parts.password is not None
    except ValueError:
        problems.add((*path, "url"), "not a valid URL")
        return found
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.add((*path, "url"), "must be an http:// or https:// URL with a host")
    if parts.username is not None or has_password:
        problems.add((*path, "url"), "credentials belong in headers, not in the URL")
    return found


def read_sections(
    doc: Mapping[str, Any],
    prefix: KeyPath,
    problems: Problems,
    discovery_base: DiscoverySettings | None = None,
    cache_base: CacheSettings | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """[discovery], [cache], [daemon], [telemetry] (over ``env``'s ``OTEL_*``) and [guardrails]
    of ``doc`` applied on the bases, each checked."""
    from .telemetry import read_telemetry  # it imports written_in from here

    discovery = discovery_base or DiscoverySettings()
    raw, path = doc.get("discovery", {}), (*prefix, "discovery")
    section = validate(DiscoverySettings, raw, path, problems)
    if section is not None:
        discovery = dataclasses.replace(discovery, **written_in(section, raw, path, problems))
    cache = cache_base or CacheSettings()
    raw, path = doc.get("cache", {}), (*prefix, "cache")
    section = validate(CacheSettings, raw, path, problems)
    if section is not None:
        cache = cache_settings(written_in(section, raw, path, problems), cache)
        check_cache(cache, path, problems)
    daemon = DaemonSettings()
    raw, path = doc.get("daemon", {}), (*prefix, "daemon")
    section = validate(DaemonSettings, raw, path, problems)
    if section is not None:
        daemon = dataclasses.replace(daemon, **written_in(section, raw, path, problems))
    control = ControlSettings()
    raw, path = doc.get("control", {}), (*prefix, "control")
    section = validate(ControlSettings, raw, path, problems)
    if section is not None:
        control = dataclasses.replace(control, **written_in(section, raw, path, problems))
    guardrails = (
        validate(GuardrailsSection, doc.get("guardrails", {}), (*prefix, "guardrails"), problems)
        or GuardrailsSection()
    )
    return Settings(
        discovery=discovery,
        cache=cache,
        server_policy=overlay(ServerPolicy(), guardrails.servers),
        tool_policy=overlay(ToolPolicy(), guardrails.tools),
        control=control,
        daemon=daemon,
        telemetry=read_telemetry(doc.get("telemetry"), (*prefix, "telemetry"), problems, env or {}),
        guardrail_provider=read_provider(
            guardrails.provider, (*prefix, "guardrails", "provider"), problems
        ),
    )
