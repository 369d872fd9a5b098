"""What an external guardrail provider is sent and must answer (the README's "Guardrails").

Requests (``POST`` to the configured URL, JSON)::

    {"version": 1, "kind": "server", "server": SERVER}
    {"version": 1, "kind": "tools", "server": SERVER,
     "tools": [{"id": "<sha256 hex>", "definition": {...MCP tool...}}, ...]}

``SERVER`` is the spec with every secret removed: a stdio server's command, args
(scrubbed of its env values) and env variable *names*; a remote server's URL
without user info, query or fragment, and its header *names*. Tool definitions
are scrubbed of the server's secrets too (an upstream may echo one).

Answers (HTTP 200, JSON)::

    {"allow": true|false, "reasons": ["..."]}                       # kind "server"
    {"verdicts": [{"id": "...", "allow": true|false, "reasons": [...]}, ...]}  # kind "tools"

Every tool sent needs a verdict; anything else is a garbled answer. A tool's ``id``
is the hash of what was sent for it (server and definition), so it is also the key
its verdict is cached under.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from ...models import JSONObject, RemoteTarget, ServerSpec
from ...secret import Secret, scrub, url_without_secrets

VERSION = 1
MAX_REASONS = 20  # kept per verdict; a provider is trusted, but not to flood a report
MAX_REASON_CHARS = 500


def server_view(spec: ServerSpec) -> JSONObject:
    """The spec as a provider sees it: names and shapes, never a secret value."""
    target = spec.target
    view: JSONObject = {"name": spec.name, "description": spec.description}
    if isinstance(target, RemoteTarget):
        view |= {
            "transport": target.transport.value,
            "url": url_without_secrets(target.url.reveal()),
            "headers": sorted(target.headers),
        }
        return view
    secrets = target.secrets()
    return view | {
        "transport": target.transport.value,
        "command": scrub(target.command, secrets),
        "args": [scrub(arg, secrets) for arg in target.args],
        "env": sorted(target.env),
        "cwd": target.cwd,
    }


def scrubbed(value: Any, secrets: tuple[Secret, ...]) -> Any:
    """``value`` (JSON) with every string scrubbed of ``secrets``, keys included."""
    if not secrets:
        return value
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub(str(k), secrets): scrubbed(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrubbed(v, secrets) for v in value]
    return value


def content_id(*parts: object) -> str:
    """A stable hash of JSON values: the verdict cache's key and the tool's id on the wire."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def server_request(server: JSONObject) -> JSONObject:
    """The body of a server check."""
    return {"version": VERSION, "kind": "server", "server": server}


def tools_request(server: JSONObject, tools: list[tuple[str, JSONObject]]) -> JSONObject:
    """The body of a tools check: each tool with its id."""
    entries = [{"id": tool_id, "definition": tool} for tool_id, tool in tools]
    return {"version": VERSION, "kind": "tools", "server": server, "tools": entries}


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class Verdict(_Answer):
    """Allowed, or blocked with reasons."""

    allow: StrictBool
    reasons: list[StrictStr] = Field(default_factory=list)

    def shown_reasons(self, provider: str) -> tuple[str, ...]:
        """The reasons to report, bounded, each saying who gave it."""
        reasons = [r[:MAX_REASON_CHARS] for r in self.reasons if r.strip()][:MAX_REASONS]
        if not reasons:
            return (f"guardrail provider '{provider}' blocked it (no reason given)",) * (
                not self.allow
            )
        return tuple(f"guardrail provider '{provider}': {r}" for r in reasons)


class ToolAnswer(Verdict):
    """One tool's verdict, by the id it was sent with."""

    id: StrictStr


class ToolsAnswer(_Answer):
    """The answer to a tools check."""

    verdicts: list[ToolAnswer]
