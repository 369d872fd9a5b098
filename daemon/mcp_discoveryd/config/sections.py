"""The daemon's own settings sections: [discovery], [cache], [guardrails].

The same models read the TOML file's top-level tables and the ``mcp_discoveryd``
object an Enkrypt config may carry. Only keys actually written are applied on top of
a base (the defaults, or what an Enkrypt config implies), so a section never resets
a setting it does not mention.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from ..models import ServerPolicy, ToolPolicy
from .durations import parse_duration
from .model import CacheSettings, DiscoverySettings, default_spawn_limit
from .problems import KeyPath, Problems, validate
from .redis_url import check_redis_url, check_sentinel
from .sizes import parse_size

T = TypeVar("T")


def check_glob(pattern: str) -> str:
    """A name glob (``*``, ``?``, ``[abc]``); ValueError for one that cannot be meant."""
    if not pattern.strip():
        raise ValueError("empty pattern")
    opened = pattern.find("[")
    if opened >= 0 and pattern.find("]", opened + 2) < 0:
        raise ValueError(f"bad glob {pattern!r}: '[' without a closing ']'")
    return pattern


Glob = Annotated[str, AfterValidator(check_glob)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
Size = Annotated[int, BeforeValidator(parse_size), Field(gt=0)]
Sentinel = Annotated[str, AfterValidator(check_sentinel)]

_DS, _CS, _SP, _TP = DiscoverySettings(), CacheSettings(), ServerPolicy(), ToolPolicy()
_CONNECTION = ("url", "password", "cluster", "sentinels")  # how the redis backend connects


class Section(BaseModel):
    """A table of the daemon's own format: typed strictly, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class DiscoverySection(Section):
    """[discovery]"""

    max_concurrent_spawns: int = Field(default_factory=default_spawn_limit, ge=1)
    spawn_admission: Literal["cpu", "handshake", "count"] = _DS.spawn_admission
    timeout: PositiveDuration = _DS.default_timeout
    page_cap: int = Field(default=_DS.page_cap, ge=1)
    max_reply_bytes: Size = _DS.max_reply_bytes
    mode: Literal["legacy", "auto"] = _DS.mode


class CacheSection(Section):
    """[cache]"""

    backend: Literal["memory", "redis"] = _CS.backend
    url: str | None = None
    password: str | None = None
    cluster: bool = _CS.cluster
    sentinels: list[Sentinel] = []
    sentinel_service: str = Field(default=_CS.sentinel_service, min_length=1)
    key_prefix: str = Field(default=_CS.key_prefix, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    key_secret: str | None = Field(default=None, min_length=16)
    tool_ttl: PositiveDuration = _CS.tool_ttl
    config_ttl: PositiveDuration = _CS.config_ttl
    stale_grace: Duration = _CS.stale_grace
    min_ttl: Duration = _CS.min_ttl
    max_entries: int = Field(default=_CS.max_entries, ge=1)
    max_bytes: Size = _CS.max_bytes
    enkrypt_compat: bool | None = None


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


class ToolGuardrails(ToolGuardrailOverrides):
    """[guardrails.tools]"""

    allowed_tools: list[Glob] = []
    denied_tools: list[Glob] = []


class GuardrailsSection(Section):
    """[guardrails]: the defaults of every server."""

    servers: ServerGuardrails = ServerGuardrails()
    tools: ToolGuardrails = ToolGuardrails()


class GuardrailOverrides(Section):
    """A server's [... .guardrails]: replaces the defaults key by key."""

    servers: ServerGuardrails = ServerGuardrails()
    tools: ToolGuardrailOverrides = ToolGuardrailOverrides()


def overlay(base: T, section: BaseModel, rename: Mapping[str, str] | None = None) -> T:
    """``base`` (a frozen dataclass) with the keys written in ``section`` applied."""
    rename = rename or {}
    changes: dict[str, Any] = {}
    for key in section.model_fields_set:
        value = getattr(section, key)
        changes[rename.get(key, key)] = tuple(value) if isinstance(value, list) else value
    return dataclasses.replace(base, **changes)  # type: ignore[type-var]  # T is a dataclass


def discovery_settings(section: DiscoverySection, base: DiscoverySettings) -> DiscoverySettings:
    """[discovery] applied on ``base``."""
    return overlay(base, section, {"timeout": "default_timeout"})


def cache_settings(section: CacheSection, base: CacheSettings) -> CacheSettings:
    """[cache] applied on ``base``.

    Naming a url or sentinels without a backend means redis; choosing memory drops the
    Redis connection the base had (an Enkrypt external cache) unless written here too.
    """
    settings = overlay(base, section)
    written = section.model_fields_set
    if "backend" not in written and written & {"url", "sentinels"}:
        settings = dataclasses.replace(settings, backend="redis")
    if "backend" in written and settings.backend == "memory":
        unset = {k: getattr(_CS, k) for k in _CONNECTION if k not in written}
        settings = dataclasses.replace(settings, **unset)
    return settings


def check_cache(settings: CacheSettings, path: KeyPath, problems: Problems) -> None:
    """Problems that only the combination of cache settings shows."""
    redis = settings.backend == "redis"
    if not redis and (settings.url or settings.sentinels or settings.cluster):
        problems.add((*path, "backend"), "url, sentinels or cluster are set but backend is memory")
    if redis and not settings.url and not settings.sentinels:
        problems.add((*path, "url"), "the redis backend needs url (or sentinels)")
    if settings.cluster and settings.sentinels:
        problems.add((*path, "cluster"), "choose Redis Cluster or Sentinel, not both")
    url_problems = check_redis_url(settings.url) if settings.url else []
    for message in url_problems:
        problems.add((*path, "url"), message)
    if settings.url and not url_problems:
        parts = urlsplit(settings.url)
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


def read_sections(
    doc: Mapping[str, Any],
    prefix: KeyPath,
    problems: Problems,
    discovery_base: DiscoverySettings | None = None,
    cache_base: CacheSettings | None = None,
) -> Settings:
    """[discovery], [cache] and [guardrails] of ``doc`` applied on the bases, each checked."""
    discovery = discovery_base or DiscoverySettings()
    section = validate(DiscoverySection, doc.get("discovery", {}), (*prefix, "discovery"), problems)
    if section is not None:
        discovery = discovery_settings(section, discovery)
    cache = cache_base or CacheSettings()
    section = validate(CacheSection, doc.get("cache", {}), (*prefix, "cache"), problems)
    if section is not None:
        cache = cache_settings(section, cache)
        check_cache(cache, (*prefix, "cache"), problems)
    guardrails = (
        validate(GuardrailsSection, doc.get("guardrails", {}), (*prefix, "guardrails"), problems)
        or GuardrailsSection()
    )
    return Settings(
        discovery=discovery,
        cache=cache,
        server_policy=overlay(ServerPolicy(), guardrails.servers),
        tool_policy=overlay(ToolPolicy(), guardrails.tools),
    )
