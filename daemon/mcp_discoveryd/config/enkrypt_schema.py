"""The parts of ``enkrypt_mcp_config.json`` this daemon reads, as pydantic models.

Enkrypt's own keys are coerced as its gateway does (it calls ``int(...)`` on them) and
unknown keys are ignored, so a file that gateway runs on loads here as it is.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .sections import Section


class _Lenient(BaseModel):
    """Enkrypt's own keys: coerced, unknown keys ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class TimeoutSettings(_Lenient):
    discovery_timeout: float | None = Field(default=None, gt=0)
    default_timeout: float | None = Field(default=None, gt=0)


class CommonConfig(_Lenient):
    """``common_mcp_gateway_config``: TTLs in hours (``_minutes`` wins), timeouts in seconds."""

    enkrypt_mcp_use_external_cache: bool = False
    enkrypt_cache_host: str = Field(default="localhost", min_length=1)
    enkrypt_cache_port: int = Field(default=6379, ge=1, le=65535)
    enkrypt_cache_db: int = Field(default=0, ge=0)
    enkrypt_cache_password: str | None = None
    enkrypt_tool_cache_expiration: float = Field(default=4, gt=0)
    enkrypt_tool_cache_expiration_minutes: float | None = Field(default=None, gt=0)
    enkrypt_gateway_cache_expiration: float = Field(default=24, gt=0)
    enkrypt_gateway_cache_expiration_minutes: float | None = Field(default=None, gt=0)
    timeout_settings: TimeoutSettings = TimeoutSettings()


class GuardrailSwitch(_Lenient):
    enabled: bool = False
    block: list[str] = []


class CommonOverrides(_Lenient):
    server_tools_guardrails_config: GuardrailSwitch | None = None


class McpConfigEntry(_Lenient):
    mcp_config_name: str = ""
    common_overrides: CommonOverrides | None = None
    mcp_config: list[Any]


class EnkryptServer(_Lenient):
    server_name: str = Field(min_length=1)
    description: str = ""
    config: dict[str, Any]
    tools: Any = None
    denied_tools: list[Any] = []


class StdioConfig(_Lenient):
    command: str = Field(min_length=1)
    args: list[str] = []
    env: dict[str, str] | None = None
    cwd: str | None = None


class RemoteConfig(_Lenient):
    url: str
    transport: str | None = None
    type: str | None = None
    headers: dict[str, str] | None = None


class ApiKeyEntry(_Lenient):
    project_id: str
    user_id: str


class ProjectEntry(_Lenient):
    mcp_config_id: str


class OwnSection(Section):
    """The optional ``mcp_discoveryd`` object: this daemon's sections, checked strictly."""

    discovery: Any = None
    cache: Any = None
    control: Any = None
    daemon: Any = None
    guardrails: Any = None
    telemetry: Any = None
