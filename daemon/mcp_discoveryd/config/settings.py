"""The loaded, validated configuration: frozen values that the rest of the daemon reads.

``DiscoverySettings`` and ``CacheSettings`` are declared once: the same frozen pydantic
dataclass parses the file's [discovery] / [cache] table (by its keys; ``validation_alias``
where a key differs from the attribute) and is what the daemon reads. Code builds them by
attribute name, and ``dataclasses.replace`` validates the change. Loaders (``toml.py``,
``enkrypt.py``) turn files into these; nothing else reads files or the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from pydantic.dataclasses import dataclass as pydantic_dataclass

from ..errors import ConfigProblem
from ..models import DEFAULT_INHERIT_ENV, ServerSpec
from .fields import Duration, KeySecret, PositiveDuration, SecretText, SecretUrlText, Sentinel, Size

HOUR = 3600.0
KEY_PREFIX = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


def default_spawn_limit() -> int:
    """Live stdio children at most: the safety bound under the CPU admission (4 per core, >= 32)."""
    return max(32, 4 * (os.cpu_count() or 1))


# A section of the daemon's own format: frozen, unknown keys rejected, every field strict
# (StrictInt, StrictBool; durations and sizes parse their own input; secrets take a str and
# hold it as a Secret). A pydantic dataclass, not a BaseModel: ``dataclasses.replace``
# works on it, and validates. A file is read with ``by_name=False``
# (``problems.validate``), so it spells each key as documented.
SECTION = ConfigDict(
    extra="forbid",
    validate_by_name=True,
    validate_by_alias=True,
    hide_input_in_errors=True,  # a ValidationError's text never quotes a value (it may be secret)
)


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class DiscoverySettings:
    """How discovery talks to upstreams: [discovery]."""

    # live stdio children at most, whatever the admission policy
    max_concurrent_spawns: StrictInt = Field(default_factory=default_spawn_limit, ge=1)
    # "cpu": spawn while the starting children leave a core idle; "handshake": each starting
    # child counts as busy until its handshake; "count": the cap alone (discovery/admission.py)
    spawn_admission: Literal["cpu", "handshake", "count"] = "cpu"
    # seconds; per server, covering connect, listing and close
    default_timeout: PositiveDuration = Field(default=30.0, validation_alias="timeout")
    page_cap: StrictInt = Field(default=100, ge=1)  # pages per list before it is cut off
    max_reply_bytes: Size = 8 * 1024 * 1024  # a catalog past this is an oversized reply
    mode: Literal["legacy", "auto"] = "legacy"  # handshake era; auto tries 2026-07-28 first
    inherit_env: tuple[StrictStr, ...] = DEFAULT_INHERIT_ENV  # what stdio children get of our env


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class CacheSettings:
    """Where results are kept and for how long: [cache]."""

    backend: Literal["memory", "redis"] = "memory"
    url: SecretUrlText | None = None  # may carry a password; shown masked
    password: SecretText | None = None
    cluster: StrictBool = False
    sentinels: tuple[Sentinel, ...] = ()  # "host:port" of each sentinel
    sentinel_service: StrictStr = Field(default="mymaster", min_length=1)
    # Sentinels' own ACL credentials: a sentinel has its own requirepass, often unset, and
    # one without it refuses AUTH, so the master's credentials are not sent by default.
    sentinel_username: StrictStr | None = None
    sentinel_password: SecretText | None = None
    key_prefix: StrictStr = Field(default="mcpd", pattern=KEY_PREFIX)
    key_secret: KeySecret | None = None  # HMAC key for identifiers
    tool_ttl: PositiveDuration = 4 * HOUR
    config_ttl: PositiveDuration = 24 * HOUR
    stale_grace: Duration = 1 * HOUR  # served stale this long past expiry while refresh fails
    min_ttl: Duration = 60.0  # floor for an upstream's ttlMs hint
    max_entries: StrictInt = Field(default=10_000, ge=1)  # memory backend bound
    max_bytes: Size = 256 * 1024 * 1024  # memory backend bound
    # A write, clear or lease asks a busy Redis pool again for this long, then fails as
    # data (the actor backs off, the control socket answers 503): cache/busy.py.
    busy_wait: Duration = 10.0  # within the CLI's 30 s wait for an answer
    enkrypt_compat: StrictBool | None = None  # None: on for an Enkrypt config with external cache
    # Upstream OAuth tokens in Redis too (auth/store.py), sealed with AES-GCM under a key
    # derived from token_key (use "${VAR}") or the first line of token_key_file.
    share_tokens: StrictBool = False
    token_key: SecretText | None = None
    token_key_file: StrictStr | None = None


DEFAULT_SOCKET = "/run/mcp-discoveryd/control.sock"


def _octal(value: object) -> object:
    """A file mode written as an octal string ("0660") read as its number."""
    if isinstance(value, str):
        try:
            return int(value, 8)
        except ValueError:
            raise ValueError(f"not an octal file mode: {value!r}") from None
    return value


FileMode = Annotated[StrictInt, BeforeValidator(_octal), Field(ge=0, le=0o777)]


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class ControlSettings:
    """The control socket (control/): [control]."""

    socket: StrictStr = Field(default=DEFAULT_SOCKET, min_length=1, max_length=107)  # sun_path
    mode: FileMode = 0o660  # TOML 0o660, or the string "0660" (JSON has no octal)
    group: StrictStr | None = None  # the socket file's group (None: the daemon's)
    admin_group: StrictStr | None = None  # members may discover, clear, reload and accept
    max_body: Size = 64 * 1024
    max_header_bytes: Size = 16 * 1024  # the request line and every header together
    max_headers: StrictInt = Field(default=64, ge=1)
    request_timeout: PositiveDuration = 10.0  # a request must arrive whole within this
    keep_alive: PositiveDuration = 30.0  # an idle kept-alive connection is closed after this
    max_connections_per_peer: StrictInt = Field(default=64, ge=1)  # by the peer's uid


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class DaemonSettings:
    """How the long-running daemon (``run``) behaves: [daemon]."""

    # "after-preload": ready once every server's first discovery ended (or preload_timeout)
    ready: Literal["after-preload", "at-once"] = "after-preload"
    # where `auth login` keeps refresh tokens (files 0600; the unit's StateDirectory)
    state_dir: StrictStr = Field(default="/var/lib/mcp-discoveryd", min_length=1)
    preload_timeout: PositiveDuration = 120.0
    shutdown_timeout: Duration = 10.0  # in-flight discoveries may finish this long, then cancelled
    retry_initial: PositiveDuration = 1.0  # backoff after a failed refresh, doubled per failure
    retry_max: PositiveDuration = 300.0
    restart_limit: StrictInt = Field(default=5, ge=1)  # crashes within restart_window, then failed
    restart_window: PositiveDuration = 60.0
    # list_changed watching (actors/watcher.py): each server's default; a server's own
    # ``watch`` wins. "auto": remote servers that advertise listChanged; "on": any server
    # (stdio too: a long-lived child each); "off": none.
    watch: Literal["auto", "on", "off"] = "auto"
    max_watched: StrictInt = Field(default=100, ge=0)  # watched sessions open at once, at most
    watch_debounce: Duration = 0.25  # notifications within this window make one refresh
    watch_ping: PositiveDuration = 30.0  # liveness ping on idle classic sessions
    watch_retry_max: PositiveDuration = 60.0  # backoff cap before reopening a dead session
    # a refresh lease across daemons on one Redis: renewed every third of it while a
    # discovery runs, so a daemon that died holding it is taken over this long after
    lease_ttl: PositiveDuration = 10.0


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class TelemetrySettings:
    """OpenTelemetry export over OTLP: [telemetry]; ``OTEL_*`` variables fill what it leaves out
    (``config/telemetry.py``)."""

    enabled: StrictBool | None = None  # None: on when an endpoint is given (here or OTEL_*)
    endpoint: StrictStr | None = None  # http: the base URL (/v1/metrics is added); grpc: host:port
    protocol: Literal["http/protobuf", "grpc"] = "http/protobuf"
    headers: dict[StrictStr, SecretText] = field(default_factory=dict)  # every value a secret
    interval: PositiveDuration = 60.0  # between metric exports
    timeout: PositiveDuration = 10.0  # one export at most
    shutdown_timeout: Duration = 5.0  # the last flush at shutdown, at most
    traces: StrictBool = True  # spans too, over the same settings
    service_name: StrictStr = Field(default="mcp-discoveryd", min_length=1)
    resource_attributes: dict[StrictStr, StrictStr] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True when an exporter is to run."""
        return bool(self.endpoint) if self.enabled is None else self.enabled


@pydantic_dataclass(frozen=True, slots=True, config=SECTION)
class GuardrailProviderSettings:
    """An external guardrail service over HTTP: [guardrails.provider]
    (``discovery/guardrails/http_provider.py``)."""

    url: StrictStr = Field(min_length=1)  # http(s); every check is POSTed here
    name: StrictStr | None = None  # shown in reasons; None: the URL's host and port
    headers: dict[StrictStr, SecretText] = field(default_factory=dict)  # every value a secret
    timeout: PositiveDuration = 5.0  # one request at most
    deadline: PositiveDuration = 30.0  # one server's checks at most, queueing included
    fail: Literal["closed", "open"] = "closed"  # what a provider down, slow or garbled means
    batch_size: StrictInt = Field(default=50, ge=1)  # tools per request
    concurrency: StrictInt = Field(default=4, ge=1)  # requests in flight, every server together
    cache_size: StrictInt = Field(default=10_000, ge=0)  # verdicts kept by content hash


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """One gateway: its servers and the identities its cache entries are stored under."""

    id: str
    servers: tuple[ServerSpec, ...]
    name: str = ""
    cache_ids: tuple[str, ...] = ()  # empty means (id,)

    @property
    def effective_cache_ids(self) -> tuple[str, ...]:
        return self.cache_ids or (self.id,)

    def server(self, name: str) -> ServerSpec | None:
        return next((s for s in self.servers if s.name == name), None)


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """Everything the daemon was configured with."""

    path: str
    format: Literal["toml", "enkrypt"]
    gateways: tuple[GatewayConfig, ...]
    discovery: DiscoverySettings = field(default_factory=DiscoverySettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    control: ControlSettings = field(default_factory=ControlSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    telemetry: TelemetrySettings = field(default_factory=TelemetrySettings)
    guardrail_provider: GuardrailProviderSettings | None = None  # [guardrails.provider]
    # Problems that do not stop a run (unknown keys in an Enkrypt file): check-config
    # lists them, --strict makes them errors, discover prints them first.
    warnings: tuple[ConfigProblem, ...] = ()

    def gateway(self, gateway_id: str) -> GatewayConfig | None:
        return next((g for g in self.gateways if g.id == gateway_id), None)
