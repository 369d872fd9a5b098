"""Unknown keys in an Enkrypt config: warnings, so that a typo is not silent.

Enkrypt's gateway ignores keys it does not know, so ``"arg": [...]`` instead of
``"args"`` runs the bare command. Where this daemon knows every key an object may
hold (a server entry, its ``config``, a deny entry), each other key is reported; in
the open objects (the top level, ``common_mcp_gateway_config``, which carry keys
of the gateway's plugins) only a near miss of a key read here is.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

from .enkrypt_schema import (
    CommonConfig,
    EnkryptServer,
    McpConfigEntry,
    RemoteConfig,
    StdioConfig,
    TimeoutSettings,
)
from .problems import KeyPath, Problems, unknown_key

# Keys of a server entry that Secure MCP Gateway reads and this daemon does not.
_GATEWAY_SERVER_KEYS = frozenset(
    {
        "enable_tool_guardrails",
        "enable_server_info_validation",
        "input_guardrails_policy",
        "output_guardrails_policy",
        "oauth_config",
    }
)
SERVER_KEYS = frozenset(EnkryptServer.model_fields) | _GATEWAY_SERVER_KEYS
TARGET_KEYS = frozenset(StdioConfig.model_fields) | frozenset(RemoteConfig.model_fields)
DENY_ENTRY_KEYS = frozenset({"pattern", "reason"})
MCP_CONFIG_KEYS = frozenset(McpConfigEntry.model_fields)
TOP_LEVEL_KEYS = frozenset(
    {
        "admin_apikey",
        "enkrypt_config",
        "common_mcp_gateway_config",
        "plugins",
        "mcp_configs",
        "projects",
        "users",
        "apikeys",
        "mcp_discoveryd",
    }
)
COMMON_KEYS = frozenset(CommonConfig.model_fields)
TIMEOUT_KEYS = frozenset(TimeoutSettings.model_fields)


def check_keys(
    raw: object, known: Collection[str], path: KeyPath, warnings: Problems, *, closed: bool
) -> None:
    """Warn of each key of ``raw`` not in ``known``; in an open object only of near misses."""
    if not isinstance(raw, dict):
        return
    for key in raw:
        if key in known or not isinstance(key, str):
            continue
        if closed or difflib.get_close_matches(key, list(known), n=1):
            warnings.add((*path, key), unknown_key(key, known))


def check_document(raw: dict[str, object], warnings: Problems) -> None:
    """The open objects: the top level, common_mcp_gateway_config and its timeout_settings."""
    check_keys(raw, TOP_LEVEL_KEYS, (), warnings, closed=False)
    common = raw.get("common_mcp_gateway_config")
    path: KeyPath = ("common_mcp_gateway_config",)
    check_keys(common, COMMON_KEYS, path, warnings, closed=False)
    if isinstance(common, dict):
        timeouts = common.get("timeout_settings")
        check_keys(timeouts, TIMEOUT_KEYS, (*path, "timeout_settings"), warnings, closed=False)
