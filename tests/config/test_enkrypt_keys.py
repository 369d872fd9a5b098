"""Enkrypt configs: unknown keys are warnings with a suggestion (errors under --strict);
a deny entry's own reason is the reason a blocked tool reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.config.test_enkrypt_loader import load_json, minimal

from mcp_discoveryd.cli import EXIT_CONFIG, EXIT_OK, main

SERVER = ("mcp_configs", "cfg", "mcp_config", 0)


def _with_server(**keys: Any) -> dict[str, Any]:
    doc = minimal()
    doc["mcp_configs"]["cfg"]["mcp_config"][0].update(keys)
    return doc


def _write(tmp_path: Path, doc: dict[str, Any]) -> str:
    path = tmp_path / "enkrypt_mcp_config.json"
    path.write_text(json.dumps(doc))
    return str(path)


def test_typos_in_a_server_entry_and_its_config_are_warnings_with_a_suggestion(
    tmp_path: Path,
) -> None:
    """`arg` and `denied_tool` load, each named with the key it was meant to be."""
    doc = _with_server(denied_tool=["x"], config={"command": "npx", "arg": ["-y", "pkg"]})
    config = load_json(tmp_path, doc)
    found = {w.location: w.message for w in config.warnings}
    base = "mcp_configs.cfg.mcp_config[0]"
    assert found == {
        f"{base}.denied_tool": "unknown key (did you mean 'denied_tools'?)",
        f"{base}.config.arg": "unknown key (did you mean 'args'?)",
    }


def test_the_gateways_own_keys_and_far_off_keys_in_open_objects_are_not_warned(
    tmp_path: Path,
) -> None:
    """Keys Secure MCP Gateway reads (guardrail policies, plugins) pass; near misses warn."""
    doc = _with_server(enable_tool_guardrails=True, input_guardrails_policy={"enabled": False})
    doc["plugins"] = {"auth": {"provider": "local_apikey"}}
    doc["common_mcp_gateway_config"] = {
        "enkrypt_log_level": "INFO",  # the gateway's, far from any key read here
        "enkrypt_mcp_use_external_cach": True,  # a near miss of one read here
    }
    config = load_json(tmp_path, doc)
    assert [(w.location, w.message) for w in config.warnings] == [
        (
            "common_mcp_gateway_config.enkrypt_mcp_use_external_cach",
            "unknown key (did you mean 'enkrypt_mcp_use_external_cache'?)",
        )
    ]


def test_check_config_lists_warnings_and_strict_makes_them_fatal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 0 with the warning on stderr; --strict: exit 78."""
    path = _write(tmp_path, _with_server(config={"command": "npx", "arg": ["pkg"]}))
    assert main(["check-config", path]) == EXIT_OK
    captured = capsys.readouterr()
    warning = f"{path}: warning: mcp_configs.cfg.mcp_config[0].config.arg: unknown key"
    assert warning in captured.err and "did you mean 'args'?" in captured.err
    assert main(["check-config", "--strict", path]) == EXIT_CONFIG
    assert "1 warning(s), fatal under --strict" in capsys.readouterr().err


def test_discover_prints_the_warnings_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The warning is on stderr of a discover run too, before its report."""
    doc = _with_server(tools={"add": "Add."}, denied_tool=["add"])
    main(["discover", "--config", _write(tmp_path, doc)])
    err = capsys.readouterr().err
    assert "warning: mcp_configs.cfg.mcp_config[0].denied_tool: unknown key" in err


def test_a_deny_entrys_own_reason_is_the_reason_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """{"pattern", "reason"}: the blocked tool reports that reason; a bare glob the pattern."""
    denied = [{"pattern": "admin_*", "reason": "no admin tools here"}, "drop_*"]
    tools = {"admin_reset": "Reset.", "drop_table": "Drop.", "read": "Read."}
    path = _write(tmp_path, _with_server(tools=tools, denied_tools=denied))
    main(["discover", "--json", "--config", path])
    report = json.loads(capsys.readouterr().out)
    server = report["available_servers"]["echo"]
    reasons = {b["name"]: b["reasons"] for b in server["blocked_tools"]}
    assert reasons["admin_reset"][0] == "no admin tools here (denied by pattern 'admin_*')"
    assert reasons["drop_table"][0] == "denied by pattern 'drop_*'"
    assert [t["name"] for t in server["tools"]] == ["read"]


def test_a_reason_that_is_not_a_string_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reason must be text; the entry's place is named."""
    doc = _with_server(denied_tools=[{"pattern": "a_*", "reason": 3}])
    assert main(["check-config", _write(tmp_path, doc)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "mcp_configs.cfg.mcp_config[0].denied_tools[0].reason: a reason is a string" in err
