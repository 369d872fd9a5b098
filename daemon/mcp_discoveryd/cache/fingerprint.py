"""Which server definition, and which tool policy, a cached catalog was made from.

A tools entry carries the fingerprint of its server's definition, and a
definition that no longer matches makes the entry a miss: pointing a server at
another command, URL or transport never serves the old server's catalog.

Covered: transport, command, args, cwd and the *names* of env variables for
stdio; the URL and the *names* of headers for remote servers. Values of env and
headers are credentials that rotate without changing what a server offers.
A URL may carry a token (user info, query values), so the digest is HMAC-SHA256
under the cache's ``key_secret``; without one it is plain SHA-256 over the URL
with its password and query values left out (their names stay), so that a short
token cannot be guessed from the stored digest. Args are covered as they are
(the server guardrails refuse secrets in argv).

The tool policy's fingerprint tells whether the tools an entry lists as blocked
were removed under today's policy: those tools' definitions are not kept, so
under another policy such an entry is a miss (a stricter policy alone would be
applied to the kept tools on the way out, but a looser one cannot bring the
blocked ones back).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict

from ..models import ServerSpec, StdioTarget, ToolPolicy
from ..secret import url_without_credentials

VERSION = "d1"  # bumped when the covered fields change: every older entry then misses


def definition_fingerprint(spec: ServerSpec, secret: str | None) -> str:
    """The fingerprint of a server's definition (not of its name, policy or timeout)."""
    target = spec.target
    if isinstance(target, StdioTarget):
        doc: list[object] = [
            "stdio",
            target.command,
            list(target.args),
            target.cwd,
            sorted(target.env),
        ]
    else:
        headers = sorted({name.lower() for name in target.headers})  # names are case-insensitive
        url = target.url.reveal()  # hashed, never stored: keyed, or without its credentials
        url = url if secret is not None else url_without_credentials(url)
        doc = [target.transport.value, url, headers]
    message = json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if secret is None:
        digest = hashlib.sha256(message).hexdigest()
    else:
        digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"{VERSION}:{digest}"


def policy_fingerprint(policy: ToolPolicy) -> str:
    """The fingerprint of a tool policy (patterns and switches; nothing secret in it)."""
    message = json.dumps(asdict(policy), sort_keys=True, separators=(",", ":")).encode()
    return f"{VERSION}:{hashlib.sha256(message).hexdigest()}"
