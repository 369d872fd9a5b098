"""Helpers for the server guardrail tests: specs checked in one call, and the reasons they give."""

from __future__ import annotations

from typing import Any

from mcp_discoveryd.config.targets import remote_target
from mcp_discoveryd.discovery.guardrails import check_server
from mcp_discoveryd.models import ServerPolicy, ServerSpec, StdioTarget, Transport
from mcp_discoveryd.secret import Secret

PIPE_TO_SHELL = "arguments pipe a download into a shell (curl ... | sh)"
SUBSTITUTION = "arguments run a download through command substitution ($(curl ...))"
BASE64 = "arguments pipe base64-decoded data into a shell"
RM_ROOT = "arguments delete the filesystem root or home directory (rm -rf /)"
REVERSE = "arguments open a reverse shell (/dev/tcp, nc -e, socat exec)"
EVAL = "arguments evaluate dynamic code (eval)"
ENCODED = "arguments pass an encoded PowerShell command"


def chaining(shell: str, flag: str = "-c") -> str:
    return (
        f"arguments run a shell script with command chaining ({shell} {flag} with ;, &&, || or |)"
    )


def stdio(
    command: str, *args: str, env: dict[str, str] | None = None, **policy: Any
) -> tuple[str, ...]:
    target = StdioTarget(command, args, {k: Secret(v) for k, v in (env or {}).items()})
    return check_server(ServerSpec("s", target, server_policy=ServerPolicy(**policy)))


def remote(url: str, headers: dict[str, str] | None = None, **policy: Any) -> tuple[str, ...]:
    target = remote_target(url, Transport.STREAMABLE_HTTP, headers or {})
    return check_server(ServerSpec("s", target, server_policy=ServerPolicy(**policy)))
